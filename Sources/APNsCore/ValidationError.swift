/// Why a notification was rejected locally, before it was sent to APNs.
///
/// Compare against the static constants (`error == .badDeviceToken`, `case .badDeviceToken:` in a
/// `switch`): equality and hashing consider only the kind of error, not ``field`` or ``message``,
/// which carry the specifics of one occurrence.
///
/// Messages never contain a full device token (at most its first 8 characters).
public struct APNsValidationError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Code: Hashable, Sendable {
        case badDeviceToken
        case payloadEmpty
        case payloadNotJSON
        case payloadTooLarge
        case badPriority
        case badCollapseId
        case badMessageId
        case badTopic
        case badExpiration
    }

    private let code: Code
    /// The notification field at fault, named as in the intake protocol: `"token"`, `"payload"`,
    /// `"priority"`, `"collapseId"`, `"apnsId"`, `"topic"` or `"expiration"`.
    public var field: String
    /// What is wrong, specific and human-readable.
    public var message: String

    private init(_ code: Code, field: String, message: String) {
        self.code = code
        self.field = field
        self.message = message
    }

    /// The device token is empty, has an odd length, is too long or contains a non-hex character.
    public static let badDeviceToken = APNsValidationError(.badDeviceToken, field: "token", message: "bad device token")
    /// The payload is empty.
    public static let payloadEmpty = APNsValidationError(.payloadEmpty, field: "payload", message: "payload is empty")
    /// The payload is not a single well-formed JSON object.
    public static let payloadNotJSON = APNsValidationError(
        .payloadNotJSON, field: "payload", message: "payload is not a JSON object")
    /// The payload exceeds the push type's ``APNsPushType/maxPayloadSize``.
    public static let payloadTooLarge = APNsValidationError(
        .payloadTooLarge, field: "payload", message: "payload is too large")
    /// The priority is not 10, 5 or 1, or is not allowed for the push type (10 for background,
    /// 1 for Live Activities).
    public static let badPriority = APNsValidationError(.badPriority, field: "priority", message: "bad priority")
    /// The collapse ID is longer than 64 bytes, empty, or contains characters not allowed in a header.
    public static let badCollapseId = APNsValidationError(
        .badCollapseId, field: "collapseId", message: "bad collapse id")
    /// The `apns-id` is not a canonical UUID.
    public static let badMessageId = APNsValidationError(
        .badMessageId, field: "apnsId", message: "apns-id is not a canonical UUID")
    /// The topic is empty, contains characters not allowed in a header, or its suffix does not
    /// match the push type.
    public static let badTopic = APNsValidationError(.badTopic, field: "topic", message: "bad topic")
    /// The expiration is negative.
    public static let badExpiration = APNsValidationError(
        .badExpiration, field: "expiration", message: "bad expiration")

    /// The APNs reason this local check stands in for (`"BadDeviceToken"`, `"PayloadTooLarge"`,
    /// ...), or a name in the same style where APNs has none (`"PayloadNotJSON"`,
    /// `"BadExpiration"`). Useful to report local rejections like APNs answers.
    public var reason: String {
        switch self.code {
        case .badDeviceToken: return "BadDeviceToken"
        case .payloadEmpty: return "PayloadEmpty"
        case .payloadNotJSON: return "PayloadNotJSON"
        case .payloadTooLarge: return "PayloadTooLarge"
        case .badPriority: return "BadPriority"
        case .badCollapseId: return "BadCollapseId"
        case .badMessageId: return "BadMessageId"
        case .badTopic: return "BadTopic"
        case .badExpiration: return "BadExpiration"
        }
    }

    /// Every kind of local rejection, in the order of ``ordinal``.
    public static let all: [APNsValidationError] = [
        .badDeviceToken, .payloadEmpty, .payloadNotJSON, .payloadTooLarge, .badPriority, .badCollapseId, .badMessageId,
        .badTopic, .badExpiration,
    ]

    /// This kind's position in ``all``: lets counters keep one slot per kind in an array.
    public var ordinal: Int {
        switch self.code {
        case .badDeviceToken: return 0
        case .payloadEmpty: return 1
        case .payloadNotJSON: return 2
        case .payloadTooLarge: return 3
        case .badPriority: return 4
        case .badCollapseId: return 5
        case .badMessageId: return 6
        case .badTopic: return 7
        case .badExpiration: return 8
        }
    }

    /// `"<reason> (<field>): <message>"`.
    public var description: String {
        "\(self.reason) (\(self.field)): \(self.message)"
    }

    /// This kind of error with a specific message.
    func with(_ message: String) -> APNsValidationError {
        APNsValidationError(self.code, field: self.field, message: message)
    }

    public static func == (lhs: APNsValidationError, rhs: APNsValidationError) -> Bool {
        lhs.code == rhs.code
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.code)
    }
}
