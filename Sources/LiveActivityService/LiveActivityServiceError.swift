import IntakeOps
import LiveActivity
import NIOCore

/// Why a Live Activity request was refused: a code for programs, a message for people, and the request
/// field at fault when there is one. Written as `"error":{"code":...,"message":...,"field":...}`.
public struct LiveActivityServiceError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The error codes of the Live Activity ops (docs/live-activities.md lists them).
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// A field is missing, has the wrong type, is empty or unknown.
        case badRequest = "BadRequest"
        /// A date is neither epoch seconds nor ISO-8601 (or is out of range).
        case badDate = "BadDate"
        /// `priority` is not 5 or 10.
        case badPriority = "BadPriority"
        /// A token is not an even number of hex digits.
        case badToken = "BadToken"
        /// The push would break a Live Activity payload rule (start without alert or attributes, ...).
        case invalidPayload = "InvalidPayload"
        /// The encoded push is larger than APNs accepts.
        case payloadTooLarge = "PayloadTooLarge"
        /// `app` names no configured app (or none is given and several are configured).
        case unknownApp = "UnknownApp"
        /// No token was ever registered for the activity.
        case unknownActivity = "UnknownActivity"
        /// No token was ever registered with the stream.
        case unknownStream = "UnknownStream"
        /// More user ids than `liveActivities.maxUsersPerStart`.
        case tooManyUsers = "TooManyUsers"
        /// More explicit tokens, or tokens in a stream, than `liveActivities.maxTokensPerStart`.
        case tooManyTokens = "TooManyTokens"
        /// The token is registered to another activity, device, user or app.
        case tokenConflict = "TokenConflict"
        /// The activity and device are registered for another app.
        case appMismatch = "AppMismatch"
        /// A scheduled end with this id exists with other details.
        case scheduleConflict = "ScheduleConflict"
        /// No scheduled end has this id.
        case unknownSchedule = "UnknownSchedule"
        /// The scheduled end already fired or was cancelled.
        case scheduleNotPending = "ScheduleNotPending"
        /// `activity.resend_scheduled_end` for an end that is not `firing`.
        case scheduleNotFiring = "ScheduleNotFiring"
        /// `activity.resend_scheduled_end` for an end claimed too recently: it may still be being sent.
        case scheduleInFlight = "ScheduleInFlight"
        /// An update to an activity that has ended (an end push reached a device): APNs ignores it, and at
        /// priority 10 it would still count against the budget.
        case activityEnded = "ActivityEnded"
        /// `activity.lifecycle` with a state the configuration does not map.
        case unknownState = "UnknownState"
        /// The registry database failed.
        case registryError = "RegistryError"
        /// The service is shutting down.
        case shuttingDown = "ShuttingDown"
        /// Live Activities are not configured (`liveActivities` is absent from the configuration).
        case disabled = "LiveActivitiesDisabled"
        /// `channel.create` for an app that has APNs's limit of channels (10,000 per app and environment).
        case tooManyChannels = "TooManyChannels"
        /// The channel is not known (never created through the gateway, deleted, or retired).
        case unknownChannel = "UnknownChannel"
        /// An expiration a channel does not take: one that stores no messages (policy 0) takes only 0.
        case badExpiration = "BadExpiration"
    }

    public var code: Code
    public var message: String
    /// The request field at fault (`contentState`, `userIds`, ...), if one is.
    public var field: String?

    public init(_ code: Code, _ message: String, field: String? = nil) {
        self.code = code
        self.message = message
        self.field = field
    }

    public var description: String {
        "\(code.rawValue): \(message)"
    }

    /// The intake reply carrying this error.
    var reply: IntakeReply {
        IntakeReply.error(code: code.rawValue, message: message, field: field)
    }

    static func badRequest(_ message: String, field: String? = nil) -> LiveActivityServiceError {
        LiveActivityServiceError(.badRequest, message, field: field)
    }

    /// A payload builder error, under the request's field names.
    static func payload(_ error: LiveActivityPayloadError) -> LiveActivityServiceError {
        let field = requestField(forPayloadKey: error.field)
        switch error {
        case .payloadTooLarge:
            return LiveActivityServiceError(.payloadTooLarge, error.description)
        case .badDate:
            return LiveActivityServiceError(.badDate, error.description, field: field)
        default:
            return LiveActivityServiceError(.invalidPayload, error.description, field: field)
        }
    }

    /// A registry error, under the request's field names.
    static func registry(_ error: LiveActivityRegistryError) -> LiveActivityServiceError {
        switch error {
        case .badIdentifier(let field, let problem):
            let name = requestField(forRegistryField: field)
            return .badRequest("\"\(name)\" \(problem)", field: name)
        case .badToken:
            return LiveActivityServiceError(.badToken, error.description, field: "token")
        case .badTime:
            return LiveActivityServiceError(.badDate, error.description)
        case .badEndPayload(let payloadError):
            return payload(payloadError)
        case .tokenConflict:
            return LiveActivityServiceError(.tokenConflict, error.description, field: "token")
        case .appMismatch:
            return LiveActivityServiceError(.appMismatch, error.description, field: "app")
        case .scheduleConflict:
            return LiveActivityServiceError(.scheduleConflict, error.description, field: "scheduleId")
        case .closed:
            return LiveActivityServiceError(.shuttingDown, "the Live Activity registry is closed")
        case .unsupportedSchema, .database, .postgres:
            return LiveActivityServiceError(.registryError, error.description)
        }
    }

    private static func requestField(forPayloadKey key: String) -> String {
        switch key {
        case "content-state": return "contentState"
        case "attributes-type": return "attributesType"
        case "stale-date": return "staleDate"
        case "dismissal-date": return "dismissalDate"
        case "relevance-score": return "relevanceScore"
        case "input-push-token": return "inputPushToken"
        case "input-push-channel": return "inputPushChannel"
        default:
            // alert.title and the like: camel-case the dashed parts.
            return key.split(separator: "-").enumerated().map { index, part in
                index == 0 ? String(part) : part.prefix(1).uppercased() + part.dropFirst()
            }.joined()
        }
    }

    private static func requestField(forRegistryField field: String) -> String {
        switch field {
        case "activityID": return "activityId"
        case "deviceID": return "deviceId"
        case "userID": return "userId"
        case "streamID": return "streamId"
        case "id": return "scheduleId"
        default: return field
        }
    }
}
