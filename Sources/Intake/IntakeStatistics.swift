import APNs

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
    /// `UnknownApp`, `InvalidPushType`, `BadPriority`); reasons never used are left out.
    public var rejections: [String: Int]
}

/// Why the intake refused a notification itself; the order is the counters' order.
enum IntakeRejectionReason: Int, CaseIterable {
    case badRequest, unknownApp, invalidPushType, badPriority, other

    init(_ reason: String) {
        switch reason {
        case "BadRequest": self = .badRequest
        case "UnknownApp": self = .unknownApp
        case "InvalidPushType": self = .invalidPushType
        case "BadPriority": self = .badPriority
        default: self = .other
        }
    }

    var name: String {
        switch self {
        case .badRequest: "BadRequest"
        case .unknownApp: "UnknownApp"
        case .invalidPushType: "InvalidPushType"
        case .badPriority: "BadPriority"
        case .other: "Other"
        }
    }
}

extension IntakeServer {
    /// The intake's figures now.
    public var statistics: IntakeStatistics { shared.statistics }

    /// Every distinct APNs client with the name of its (first) app, ordered by name.
    public var apps: [(name: String, client: APNsClient)] { shared.routes.clients }
}
