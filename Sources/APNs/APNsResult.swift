import APNsCore
import NIOCore

/// The final result of one notification: APNs's answer, a local rejection, or the gateway's own failure.
public struct APNsResult: Sendable, Hashable, APNsIdentified {
    /// Who decided the result.
    public enum Source: String, Sendable, Hashable {
        /// APNs answered (success or error).
        case apns
        /// Rejected before sending: the notification was malformed.
        case local
        /// The gateway could not get an answer (deadline, shutdown, retries exhausted, no connection).
        case gateway
    }

    public var source: Source
    /// APNs's HTTP status, nil unless `source == .apns`.
    public var status: Int?
    /// APNs's reason, the validation error's code, or the gateway's reason (see ``GatewayReason``).
    public var reason: String?
    /// A human-readable explanation for local and gateway failures.
    public var detail: String?
    /// APNs's `apns-id` for the notification (see ``APNsIdentifier``).
    public var apnsIdentifier: APNsIdentifier?
    /// APNs's `apns-unique-id` (development environment only).
    public var apnsUniqueIdentifier: APNsIdentifier?
    /// With 410: when APNs learned the token was no longer valid (ms since the epoch).
    public var timestamp: Int64?
    /// How many times the notification was sent.
    public var attempts: Int
    /// True when an attempt's outcome was unknown (connection lost after sending) and it was sent again:
    /// the device may receive it twice.
    public var retriedAfterUnknownOutcome: Bool
    /// For a broadcast (a `send` item with `channelId`): APNs's `apns-request-id`.
    public var requestID: String?

    public init(
        source: Source, status: Int? = nil, reason: String? = nil, detail: String? = nil, apnsID: String? = nil,
        apnsUniqueID: String? = nil, timestamp: Int64? = nil, attempts: Int = 0, retriedAfterUnknownOutcome: Bool = false,
        requestID: String? = nil
    ) {
        self.source = source
        self.status = status
        self.reason = reason
        self.detail = detail
        self.apnsIdentifier = apnsID.map(APNsIdentifier.init)
        self.apnsUniqueIdentifier = apnsUniqueID.map(APNsIdentifier.init)
        self.timestamp = timestamp
        self.attempts = attempts
        self.retriedAfterUnknownOutcome = retriedAfterUnknownOutcome
        self.requestID = requestID
    }

    /// True for APNs status 200.
    public var isSuccess: Bool { status == 200 }

    /// APNs's reason as a typed value; nil unless APNs gave the result with a reason.
    public var apnsReason: APNsReason? {
        guard source == .apns, let reason else { return nil }
        return APNsReason(rawValue: reason)
    }

    /// The gateway's reason as a typed value; nil unless the gateway gave the result.
    public var gatewayReason: GatewayReason? {
        guard source == .gateway, let reason else { return nil }
        return GatewayReason(rawValue: reason)
    }

    static func local(_ error: APNsValidationError) -> APNsResult {
        APNsResult(source: .local, reason: error.reason, detail: error.message)
    }

    static func gateway(_ reason: GatewayReason, _ detail: String, attempts: Int = 0, uncertain: Bool = false) -> APNsResult {
        APNsResult(source: .gateway, reason: reason.rawValue, detail: detail, attempts: attempts, retriedAfterUnknownOutcome: uncertain)
    }
}

/// The gateway's own reasons for a result APNs did not give.
public enum GatewayReason: String, Sendable, Hashable, CaseIterable {
    /// The notification's deadline passed before APNs answered.
    case deadlineExceeded = "DeadlineExceeded"
    /// The gateway shut down before the notification could be sent.
    case shutdown = "Shutdown"
    /// Every allowed attempt failed without an APNs answer.
    case retriesExhausted = "RetriesExhausted"
    /// No connection to APNs could be made.
    case connectFailed = "ConnectFailed"
    /// The gateway is at its bound of outstanding notifications.
    case overloaded = "Overloaded"
}

/// When a notification passed the client's two edges: its first attempt written to APNs, and its final result
/// known (APNs's answer read, or the gateway's failure decided). Readings the client takes anyway (the engine
/// stamps writes per write chunk and answers per read batch), handed to a caller that measures the time it adds
/// itself before and after the client. An uptime of 0 means not known.
public struct APNsResultTimes: Sendable, Hashable {
    /// When the first attempt was written (the engine's `sentAt`), if APNs answered that attempt; uptime 0 for a
    /// notification never written, or whose first attempt ended without an answer (its later writes include the
    /// retry policy's waits, not the caller's time).
    public var firstSentAt: NIODeadline
    /// When the final result became known (the engine's `receivedAt` for an APNs answer); uptime 0 for a
    /// notification rejected before it reached the pool.
    public var knownAt: NIODeadline

    public init(firstSentAt: NIODeadline, knownAt: NIODeadline) {
        self.firstSentAt = firstSentAt
        self.knownAt = knownAt
    }

    /// Neither time known.
    public static let unknown = APNsResultTimes(firstSentAt: .uptimeNanoseconds(0), knownAt: .uptimeNanoseconds(0))
}

/// Takes the results of notifications handed to ``APNsClient/trySend(_:to:index:)``: a caller that sends many
/// notifications to one place (the intake's request) gives the client itself and each notification's index,
/// instead of a closure per notification.
public protocol APNsResultReceiver: AnyObject, Sendable {
    /// The result of the notification sent with `index`, with its ``APNsResultTimes``: exactly once per
    /// notification, on an arbitrary thread.
    func receive(_ result: APNsResult, times: APNsResultTimes, index: Int)
}
