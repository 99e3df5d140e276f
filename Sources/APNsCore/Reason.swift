/// The `reason` of an APNs error response (or of a GOAWAY frame's debug data).
///
/// Every reason Apple documents has a case (the broadcast ones included); anything else is kept verbatim in ``unknown(_:)``.
/// ``init(rawValue:)`` never produces `unknown` for a documented string, so two values compare
/// equal exactly when their raw strings do.
public enum APNsReason: Hashable, Sendable, CustomStringConvertible {
    // MARK: 400
    /// `BadCollapseId` (400): The collapse ID is longer than 64 bytes.
    case badCollapseId
    /// `BadDeviceToken` (400): The device token is invalid or for the other environment (sandbox vs production).
    case badDeviceToken
    /// `BadExpirationDate` (400): The `apns-expiration` value is invalid.
    case badExpirationDate
    /// `BadMessageId` (400): The `apns-id` value is invalid.
    case badMessageId
    /// `BadPriority` (400): The `apns-priority` value is invalid.
    case badPriority
    /// `BadTopic` (400): The `apns-topic` value is invalid.
    case badTopic
    /// `DeviceTokenNotForTopic` (400): The device token does not match the topic.
    case deviceTokenNotForTopic
    /// `DuplicateHeaders` (400): A header was repeated.
    case duplicateHeaders
    /// `IdleTimeout` (400): Idle time out.
    case idleTimeout
    /// `InvalidPushType` (400): The `apns-push-type` value is invalid.
    case invalidPushType
    /// `MissingDeviceToken` (400): The path has no device token.
    case missingDeviceToken
    /// `MissingTopic` (400): The `apns-topic` header is missing and required.
    case missingTopic
    /// `PayloadEmpty` (400): The payload is empty.
    case payloadEmpty
    /// `TopicDisallowed` (400): Pushing to this topic is not allowed.
    case topicDisallowed
    // MARK: 403
    /// `BadCertificate` (403): The certificate is invalid.
    case badCertificate
    /// `BadCertificateEnvironment` (403): The client certificate is for the wrong environment.
    case badCertificateEnvironment
    /// `ExpiredProviderToken` (403): The provider token is stale; sign a new one.
    case expiredProviderToken
    /// `Forbidden` (403): The action is not allowed.
    case forbidden
    /// `InvalidProviderToken` (403): The provider token is invalid or its signature could not be verified.
    case invalidProviderToken
    /// `MissingProviderToken` (403): No provider certificate was used and no `authorization` header was sent.
    case missingProviderToken
    /// `UnrelatedKeyIdInToken` (403): The token's key ID differs from the one this connection was first used with; open a new connection.
    case unrelatedKeyIdInToken
    /// `BadEnvironmentKeyIdInToken` (403): The token's key is for the other environment.
    case badEnvironmentKeyIdInToken
    /// `BadEnvironmentKeyInToken` (403): The same as `badEnvironmentKeyIdInToken`, in the other spelling seen in practice.
    case badEnvironmentKeyInToken
    // MARK: 404
    /// `BadPath` (404): The request path is invalid.
    case badPath
    // MARK: 405
    /// `MethodNotAllowed` (405): The method is not POST.
    case methodNotAllowed
    // MARK: 410
    /// `ExpiredToken` (410): The device token has expired.
    case expiredToken
    /// `Unregistered` (410): The device token is no longer active for the topic.
    case unregistered
    // MARK: 413
    /// `PayloadTooLarge` (413): The payload is too large.
    case payloadTooLarge
    // MARK: 429
    /// `TooManyProviderTokenUpdates` (429): The provider token was updated too often.
    case tooManyProviderTokenUpdates
    /// `TooManyRequests` (429): Too many requests were sent to the same device token.
    case tooManyRequests
    // MARK: 500
    /// `InternalServerError` (500): An internal server error occurred.
    case internalServerError
    // MARK: 503
    /// `ServiceUnavailable` (503): The service is unavailable.
    case serviceUnavailable
    /// `Shutdown` (503): The APNs server is shutting down.
    case shutdown
    // MARK: Broadcast (channel management and broadcast pushes)
    /// `FeatureNotEnabled` (400): Broadcast is not enabled for the app (its capability is off).
    case featureNotEnabled
    /// `MissingChannelId` (400): A broadcast or channel request has no `apns-channel-id` header.
    case missingChannelId
    /// `BadChannelId` (400): The `apns-channel-id` value is not a valid channel ID.
    case badChannelId
    /// `ChannelNotRegistered` (400): The channel does not exist (deleted, or of another app or environment).
    case channelNotRegistered
    /// `BadRequestParams` (400): A channel request's parameters are invalid (storage policy, push type).
    case badRequestParams
    /// `BadRequestPayload` (400): A broadcast's payload or a channel request's body is invalid.
    case badRequestPayload
    /// `MissingPushType` (400): A broadcast has no `apns-push-type` header.
    case missingPushType
    /// `CannotCreateChannelConfig` (400): The app has reached its limit of channels (10,000 per environment).
    case cannotCreateChannelConfig
    /// `TopicMismatch` (403): The bundle ID in the path does not match the provider token's topics.
    case topicMismatch
    /// A reason this version does not know, as received.
    case unknown(String)

    /// Maps a reason string to its case; never fails: unknown strings become ``unknown(_:)``.
    /// Matching is exact (APNs's spelling and case).
    public init(rawValue: String) {
        switch rawValue {
        case "BadCollapseId": self = .badCollapseId
        case "BadDeviceToken": self = .badDeviceToken
        case "BadExpirationDate": self = .badExpirationDate
        case "BadMessageId": self = .badMessageId
        case "BadPriority": self = .badPriority
        case "BadTopic": self = .badTopic
        case "DeviceTokenNotForTopic": self = .deviceTokenNotForTopic
        case "DuplicateHeaders": self = .duplicateHeaders
        case "IdleTimeout": self = .idleTimeout
        case "InvalidPushType": self = .invalidPushType
        case "MissingDeviceToken": self = .missingDeviceToken
        case "MissingTopic": self = .missingTopic
        case "PayloadEmpty": self = .payloadEmpty
        case "TopicDisallowed": self = .topicDisallowed
        case "BadCertificate": self = .badCertificate
        case "BadCertificateEnvironment": self = .badCertificateEnvironment
        case "ExpiredProviderToken": self = .expiredProviderToken
        case "Forbidden": self = .forbidden
        case "InvalidProviderToken": self = .invalidProviderToken
        case "MissingProviderToken": self = .missingProviderToken
        case "UnrelatedKeyIdInToken": self = .unrelatedKeyIdInToken
        case "BadEnvironmentKeyIdInToken": self = .badEnvironmentKeyIdInToken
        case "BadEnvironmentKeyInToken": self = .badEnvironmentKeyInToken
        case "BadPath": self = .badPath
        case "MethodNotAllowed": self = .methodNotAllowed
        case "ExpiredToken": self = .expiredToken
        case "Unregistered": self = .unregistered
        case "PayloadTooLarge": self = .payloadTooLarge
        case "TooManyProviderTokenUpdates": self = .tooManyProviderTokenUpdates
        case "TooManyRequests": self = .tooManyRequests
        case "InternalServerError": self = .internalServerError
        case "ServiceUnavailable": self = .serviceUnavailable
        case "Shutdown": self = .shutdown
        case "FeatureNotEnabled": self = .featureNotEnabled
        case "MissingChannelId": self = .missingChannelId
        case "BadChannelId": self = .badChannelId
        case "ChannelNotRegistered": self = .channelNotRegistered
        case "BadRequestParams": self = .badRequestParams
        case "BadRequestPayload": self = .badRequestPayload
        case "MissingPushType": self = .missingPushType
        case "CannotCreateChannelConfig": self = .cannotCreateChannelConfig
        case "TopicMismatch": self = .topicMismatch
        default: self = .unknown(rawValue)
        }
    }

    /// The reason string as APNs sends it.
    public var rawValue: String {
        switch self {
        case .badCollapseId: return "BadCollapseId"
        case .badDeviceToken: return "BadDeviceToken"
        case .badExpirationDate: return "BadExpirationDate"
        case .badMessageId: return "BadMessageId"
        case .badPriority: return "BadPriority"
        case .badTopic: return "BadTopic"
        case .deviceTokenNotForTopic: return "DeviceTokenNotForTopic"
        case .duplicateHeaders: return "DuplicateHeaders"
        case .idleTimeout: return "IdleTimeout"
        case .invalidPushType: return "InvalidPushType"
        case .missingDeviceToken: return "MissingDeviceToken"
        case .missingTopic: return "MissingTopic"
        case .payloadEmpty: return "PayloadEmpty"
        case .topicDisallowed: return "TopicDisallowed"
        case .badCertificate: return "BadCertificate"
        case .badCertificateEnvironment: return "BadCertificateEnvironment"
        case .expiredProviderToken: return "ExpiredProviderToken"
        case .forbidden: return "Forbidden"
        case .invalidProviderToken: return "InvalidProviderToken"
        case .missingProviderToken: return "MissingProviderToken"
        case .unrelatedKeyIdInToken: return "UnrelatedKeyIdInToken"
        case .badEnvironmentKeyIdInToken: return "BadEnvironmentKeyIdInToken"
        case .badEnvironmentKeyInToken: return "BadEnvironmentKeyInToken"
        case .badPath: return "BadPath"
        case .methodNotAllowed: return "MethodNotAllowed"
        case .expiredToken: return "ExpiredToken"
        case .unregistered: return "Unregistered"
        case .payloadTooLarge: return "PayloadTooLarge"
        case .tooManyProviderTokenUpdates: return "TooManyProviderTokenUpdates"
        case .tooManyRequests: return "TooManyRequests"
        case .internalServerError: return "InternalServerError"
        case .serviceUnavailable: return "ServiceUnavailable"
        case .shutdown: return "Shutdown"
        case .featureNotEnabled: return "FeatureNotEnabled"
        case .missingChannelId: return "MissingChannelId"
        case .badChannelId: return "BadChannelId"
        case .channelNotRegistered: return "ChannelNotRegistered"
        case .badRequestParams: return "BadRequestParams"
        case .badRequestPayload: return "BadRequestPayload"
        case .missingPushType: return "MissingPushType"
        case .cannotCreateChannelConfig: return "CannotCreateChannelConfig"
        case .topicMismatch: return "TopicMismatch"
        case .unknown(let rawValue): return rawValue
        }
    }

    /// The HTTP status APNs documents for this reason, or `nil` for ``unknown(_:)``.
    public var documentedStatus: Int? {
        switch self {
        case .badCollapseId, .badDeviceToken, .badExpirationDate, .badMessageId, .badPriority, .badTopic,
            .deviceTokenNotForTopic, .duplicateHeaders, .idleTimeout, .invalidPushType, .missingDeviceToken,
            .missingTopic, .payloadEmpty, .topicDisallowed, .featureNotEnabled, .missingChannelId, .badChannelId,
            .channelNotRegistered, .badRequestParams, .badRequestPayload, .missingPushType, .cannotCreateChannelConfig:
            return 400
        case .badCertificate, .badCertificateEnvironment, .expiredProviderToken, .forbidden,
            .invalidProviderToken, .missingProviderToken, .unrelatedKeyIdInToken,
            .badEnvironmentKeyIdInToken, .badEnvironmentKeyInToken, .topicMismatch:
            return 403
        case .badPath:
            return 404
        case .methodNotAllowed:
            return 405
        case .expiredToken, .unregistered:
            return 410
        case .payloadTooLarge:
            return 413
        case .tooManyProviderTokenUpdates, .tooManyRequests:
            return 429
        case .internalServerError:
            return 500
        case .serviceUnavailable, .shutdown:
            return 503
        case .unknown: return nil
        }
    }

    /// Every documented reason (all cases but ``unknown(_:)``).
    public static let documented: [APNsReason] = [
        .badCollapseId,
        .badDeviceToken,
        .badExpirationDate,
        .badMessageId,
        .badPriority,
        .badTopic,
        .deviceTokenNotForTopic,
        .duplicateHeaders,
        .idleTimeout,
        .invalidPushType,
        .missingDeviceToken,
        .missingTopic,
        .payloadEmpty,
        .topicDisallowed,
        .badCertificate,
        .badCertificateEnvironment,
        .expiredProviderToken,
        .forbidden,
        .invalidProviderToken,
        .missingProviderToken,
        .unrelatedKeyIdInToken,
        .badEnvironmentKeyIdInToken,
        .badEnvironmentKeyInToken,
        .badPath,
        .methodNotAllowed,
        .expiredToken,
        .unregistered,
        .payloadTooLarge,
        .tooManyProviderTokenUpdates,
        .tooManyRequests,
        .internalServerError,
        .serviceUnavailable,
        .shutdown,
        .featureNotEnabled,
        .missingChannelId,
        .badChannelId,
        .channelNotRegistered,
        .badRequestParams,
        .badRequestPayload,
        .missingPushType,
        .cannotCreateChannelConfig,
        .topicMismatch,
    ]

    /// The position of a documented reason in ``documented``, or `nil` for ``unknown(_:)``: lets counters keep
    /// one slot per reason in an array, without hashing the reason's string.
    public var documentedIndex: Int? {
        switch self {
        case .badCollapseId: return 0
        case .badDeviceToken: return 1
        case .badExpirationDate: return 2
        case .badMessageId: return 3
        case .badPriority: return 4
        case .badTopic: return 5
        case .deviceTokenNotForTopic: return 6
        case .duplicateHeaders: return 7
        case .idleTimeout: return 8
        case .invalidPushType: return 9
        case .missingDeviceToken: return 10
        case .missingTopic: return 11
        case .payloadEmpty: return 12
        case .topicDisallowed: return 13
        case .badCertificate: return 14
        case .badCertificateEnvironment: return 15
        case .expiredProviderToken: return 16
        case .forbidden: return 17
        case .invalidProviderToken: return 18
        case .missingProviderToken: return 19
        case .unrelatedKeyIdInToken: return 20
        case .badEnvironmentKeyIdInToken: return 21
        case .badEnvironmentKeyInToken: return 22
        case .badPath: return 23
        case .methodNotAllowed: return 24
        case .expiredToken: return 25
        case .unregistered: return 26
        case .payloadTooLarge: return 27
        case .tooManyProviderTokenUpdates: return 28
        case .tooManyRequests: return 29
        case .internalServerError: return 30
        case .serviceUnavailable: return 31
        case .shutdown: return 32
        case .featureNotEnabled: return 33
        case .missingChannelId: return 34
        case .badChannelId: return 35
        case .channelNotRegistered: return 36
        case .badRequestParams: return 37
        case .badRequestPayload: return 38
        case .missingPushType: return 39
        case .cannotCreateChannelConfig: return 40
        case .topicMismatch: return 41
        case .unknown: return nil
        }
    }

    /// The raw value.
    public var description: String {
        self.rawValue
    }
}
