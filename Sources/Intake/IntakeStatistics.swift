import APNs
import APNsCore

/// The intake's figures at one moment: the `stats` op's `intake` object and the intake's Prometheus metrics.
public struct IntakeStatistics: Sendable, Hashable {
    /// Connections open now.
    public var connections: Int
    public var connectionsAccepted: Int
    /// Connections refused for being over `maxConnections`.
    public var connectionsRejected: Int
    /// Request lines read (blank lines are not requests).
    public var requests: Int
    /// Bytes read from intake connections.
    public var bytes: Int
    /// Notifications in `send` requests.
    public var notifications: Int
    /// Extension-op requests (e.g. `activity.update`) accepted.
    public var operations: Int
    /// `send` and extension-op requests accepted and not yet answered.
    public var pendingRequests: Int
    /// Error replies by code (codes never used are left out).
    public var errors: [String: Int]
    /// Notifications the intake refused itself before handing them to an app, by reason (`BadRequest`,
    /// `UnknownApp`, `InvalidPushType`, `BadPriority`, `RateLimited`); reasons never used are left out.
    public var rejections: [String: Int]
    /// The time the gateway adds to each notification (see ``IntakeAddedLatencyStatistics``).
    public var addedLatency: IntakeAddedLatencyStatistics
}

/// The time the gateway adds to each notification on its own, per notification sent through the intake, as
/// histograms (the `stats` reply's `intake.addedLatency`, the `apns_gateway_added_*_seconds` metrics).
public struct IntakeAddedLatencyStatistics: Sendable, Hashable {
    /// From reading the bytes that completed the request line to the notification's first write to APNs (the
    /// engine's write time), per notification whose first attempt APNs answered.
    public var inbound: HistogramSnapshot
    /// From reading the answer that completed the notification's batch to writing the batch's reply, per
    /// notification with a result from the client.
    public var outbound: HistogramSnapshot
    /// Inbound plus outbound, per notification with both.
    public var total: HistogramSnapshot
    /// From the notification's result to the last result of its batch: the reply's wait for its slowest item
    /// (batching, not overhead), per notification with a result from the client.
    public var batchWait: HistogramSnapshot
}

/// Why the intake refused a notification itself; the order is the counters' order.
///
/// Where the refusal stands in for an APNs answer (`InvalidPushType`, `BadPriority`), the name is APNs's
/// reason, as ``APNsReason`` spells it.
enum IntakeRejectionReason: Int, CaseIterable, Sendable {
    /// The notification is malformed (a member of the wrong type, no `token` or `payload`).
    case badRequest
    /// `app` names no configured app, or is missing while several are configured.
    case unknownApp
    /// `pushType` is not one APNs knows.
    case invalidPushType
    /// `priority` is not 10, 5 or 1.
    case badPriority
    /// Over the network client's rate limit.
    case rateLimited

    /// The reason as results and counters show it.
    var name: String {
        switch self {
        case .badRequest: "BadRequest"
        case .unknownApp: "UnknownApp"
        case .invalidPushType: APNsReason.invalidPushType.rawValue
        case .badPriority: APNsReason.badPriority.rawValue
        case .rateLimited: "RateLimited"
        }
    }
}

extension IntakeServer {
    /// The intake's figures now.
    public var statistics: IntakeStatistics { shared.statistics }

    /// Every distinct APNs client with the name of its (first) app, ordered by name.
    public var apps: [(name: String, client: APNsClient)] { shared.routes.clients }
}
