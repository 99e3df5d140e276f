import APNsCore
import NIOCore

/// One broadcast push: a Live Activity update or end published once to a channel, which APNs delivers to
/// every activity subscribed to it (`POST /4/broadcasts/apps/<bundle>`, iOS 18).
public struct APNsBroadcast: Sendable {
    /// The app whose channel it is.
    public var bundleID: String
    /// The channel (`apns-channel-id`), as APNs returned it when the channel was created.
    public var channelID: String
    /// The Live Activity payload (an update or an end; a broadcast cannot start an activity), sent as given.
    public var payload: ByteBuffer
    /// `apns-priority`: 5 or 10 (nil: APNs's default, 10).
    public var priority: APNsPriority?
    /// `apns-expiration` in epoch seconds; a channel with storage policy 0 takes only `0`.
    public var expiration: Int64?

    /// Creates a broadcast.
    public init(bundleID: String, channelID: String, payload: ByteBuffer, priority: APNsPriority? = nil, expiration: Int64? = nil) {
        self.bundleID = bundleID
        self.channelID = channelID
        self.payload = payload
        self.priority = priority
        self.expiration = expiration
    }

    /// The largest broadcast payload APNs takes.
    public static let maxPayloadSize = 5120
    /// The longest channel ID accepted locally (APNs's are 24 characters today).
    public static let maxChannelIDLength = 128

    /// Checks a channel ID locally: non-empty base64 text, at most ``maxChannelIDLength`` characters. Returns the
    /// APNs reason it would earn (`MissingChannelId`, `BadChannelId`), nil when fine.
    public static func channelIDProblem(_ channelID: String) -> APNsReason? {
        if channelID.isEmpty { return .missingChannelId }
        guard channelID.utf8.count <= maxChannelIDLength, channelID.utf8.count % 4 == 0 else { return .badChannelId }
        var padding = 0
        for byte in channelID.utf8 {
            switch byte {
            case UInt8(ascii: "="): padding += 1
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "/"):
                if padding > 0 { return .badChannelId }
            default: return .badChannelId
            }
        }
        return padding > 2 ? .badChannelId : nil
    }

    /// Local checks: the channel ID, a payload that is one JSON object of at most ``maxPayloadSize`` bytes, a
    /// Live Activity priority, a non-negative expiration. Throws the result to report.
    func validate() throws(APNsBroadcastResult) {
        if let problem = Self.channelIDProblem(channelID) {
            throw .local(problem.rawValue, "\"channelId\" must be the channel ID APNs returned (base64 text)")
        }
        do {
            try APNsNotification.validatePayload(payload, for: .voip)  // the broadcast limit is VoIP's, 5,120
            if let priority { try APNsNotification.validatePriority(priority, for: .liveactivity) }
        } catch {
            let message = error.message.replacingOccurrences(of: "voip pushes", with: "broadcasts")
            throw .local(error.reason, message)
        }
        if let expiration, expiration < 0 {
            throw .local(APNsValidationError.badExpiration.reason, "expiration \(expiration) is negative")
        }
    }
}

/// The final result of one broadcast: APNs's answer with its `apns-request-id`, a local rejection, or the
/// gateway's failure (same sources and gateway reasons as ``APNsResult``).
public struct APNsBroadcastResult: Error, Sendable, Hashable {
    public var source: APNsResult.Source
    /// APNs's status (200 on success); nil unless `source == .apns`.
    public var status: Int?
    /// APNs's reason, the local check's, or the gateway's.
    public var reason: String?
    /// An explanation for local and gateway failures.
    public var detail: String?
    /// `apns-request-id` of APNs's answer: how Apple identifies the broadcast.
    public var requestID: String?
    /// How many times it was sent.
    public var attempts: Int
    /// True when an attempt's outcome was unknown (connection lost after sending) and it was sent again: the
    /// subscribed activities may get it twice.
    public var retriedAfterUnknownOutcome: Bool

    /// Creates a result.
    public init(
        source: APNsResult.Source, status: Int? = nil, reason: String? = nil, detail: String? = nil,
        requestID: String? = nil, attempts: Int = 0, retriedAfterUnknownOutcome: Bool = false
    ) {
        self.source = source
        self.status = status
        self.reason = reason
        self.detail = detail
        self.requestID = requestID
        self.attempts = attempts
        self.retriedAfterUnknownOutcome = retriedAfterUnknownOutcome
    }

    /// True for APNs status 200.
    public var isSuccess: Bool { status == 200 }

    /// APNs's reason as a typed value; nil unless APNs gave the result with a reason.
    public var apnsReason: APNsReason? {
        guard source == .apns, let reason else { return nil }
        return APNsReason(rawValue: reason)
    }

    /// The label it is counted under: `"200"` for a success, else the reason (or `"status <n>"`).
    public var countLabel: String {
        if status == 200 { return "200" }
        return reason ?? status.map { "status \($0)" } ?? "unknown"
    }

    /// The result as a notification's result (a `send` item with `channelId`), `requestID` included.
    public var asResult: APNsResult {
        APNsResult(
            source: source, status: status, reason: reason, detail: detail, attempts: attempts,
            retriedAfterUnknownOutcome: retriedAfterUnknownOutcome, requestID: requestID)
    }

    static func local(_ reason: String, _ detail: String) -> APNsBroadcastResult {
        APNsBroadcastResult(source: .local, reason: reason, detail: detail)
    }

    static func gateway(_ reason: GatewayReason, _ detail: String, attempts: Int = 0, uncertain: Bool = false) -> APNsBroadcastResult {
        APNsBroadcastResult(source: .gateway, reason: reason.rawValue, detail: detail, attempts: attempts, retriedAfterUnknownOutcome: uncertain)
    }
}
