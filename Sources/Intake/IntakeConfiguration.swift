import APNs
import APNsCore
import JSON
import NIOCore

/// Settings of the intake socket and its protocol limits.
public struct IntakeConfiguration: Sendable {
    /// Path of the Unix stream socket.
    public var socketPath: String
    /// File mode of the socket (default `0o660`: owner and group may connect).
    public var socketMode: UInt16
    /// The user ID to give the socket file to; `nil` keeps the gateway's own.
    public var socketOwner: UInt32?
    /// The group ID to give the socket file to (the group whose members may connect with mode 0660); `nil`
    /// keeps the gateway's own.
    public var socketGroup: UInt32?
    /// The longest request line accepted, in bytes (without the newline). Longer lines are skipped up to their
    /// newline and answered with `LineTooLong`.
    public var maxLineBytes: Int
    /// The most notifications in one `send` request.
    public var maxBatchSize: Int
    /// The most intake connections at once; more are answered with `TooManyConnections` and closed.
    public var maxConnections: Int
    /// The most extension-op requests (see ``IntakeOperation``) one connection has running at once; at this
    /// number the connection stops reading until one finishes.
    public var maxOperationsPerConnection: Int
    /// How long an extension op may run before its request is answered with `DeadlineExceeded`.
    public var operationTimeout: TimeAmount
    /// The network intake (TCP with TLS, authenticated), served beside the socket; nil: the socket only.
    public var network: NetworkIntakeConfiguration? = nil

    /// Creates a configuration; only the socket path has no default.
    public init(
        socketPath: String,
        socketMode: UInt16 = IntakeConfiguration.defaultSocketMode,
        socketOwner: UInt32? = nil,
        socketGroup: UInt32? = nil,
        maxLineBytes: Int = IntakeConfiguration.defaultMaxLineBytes,
        maxBatchSize: Int = IntakeConfiguration.defaultMaxBatchSize,
        maxConnections: Int = IntakeConfiguration.defaultMaxConnections,
        maxOperationsPerConnection: Int = IntakeConfiguration.defaultMaxOperationsPerConnection,
        operationTimeout: TimeAmount = IntakeConfiguration.defaultOperationTimeout
    ) {
        self.socketPath = socketPath
        self.socketMode = socketMode
        self.socketOwner = socketOwner
        self.socketGroup = socketGroup
        self.maxLineBytes = maxLineBytes
        self.maxBatchSize = maxBatchSize
        self.maxConnections = maxConnections
        self.maxOperationsPerConnection = maxOperationsPerConnection
        self.operationTimeout = operationTimeout
    }

    // MARK: Defaults and sensible ranges (a configuration file is held to the ranges)

    /// Where the gateway's configuration puts the socket when it names none.
    public static let defaultSocketPath = "/run/apns-gateway/intake.sock"
    /// The default of ``socketMode``: owner and group may connect.
    public static let defaultSocketMode: UInt16 = 0o660
    /// The default of ``maxLineBytes`` (8 MiB).
    public static let defaultMaxLineBytes = 8 * 1024 * 1024
    /// The values of ``maxLineBytes`` worth configuring.
    public static let maxLineBytesRange = 1024...(1 << 30)
    /// The default of ``maxBatchSize``.
    public static let defaultMaxBatchSize = 10_000
    /// The values of ``maxBatchSize`` worth configuring.
    public static let maxBatchSizeRange = 1...1_000_000
    /// The default of ``maxConnections``.
    public static let defaultMaxConnections = 1024
    /// The values of ``maxConnections`` worth configuring.
    public static let maxConnectionsRange = 1...100_000
    /// The default of ``maxOperationsPerConnection``.
    public static let defaultMaxOperationsPerConnection = 16
    /// The default of ``operationTimeout``.
    public static let defaultOperationTimeout: TimeAmount = .seconds(300)
    /// The values of ``operationTimeout`` worth configuring.
    public static let operationTimeoutRange: ClosedRange<TimeAmount> = .seconds(1)...(.seconds(86_400))
    /// How long ``IntakeServer/shutdown(grace:)`` gives notifications in flight by default.
    public static let defaultShutdownGrace: TimeAmount = .seconds(5)
    /// The values of the shutdown grace worth configuring.
    public static let shutdownGraceRange: ClosedRange<TimeAmount> = .zero...(.seconds(600))
}

/// Turning a scanned item into a notification for its app's client.
extension APNsApps {
    /// Turns a scanned item into a notification for its app's client, or the local result that rejects it.
    func notification(for item: ScannedItem, payload: JSONObjectBytes?) -> Result<(APNsNotification, APNsClient), LocalRejection> {
        if let problem = item.problem {
            return .failure(LocalRejection(reason: .badRequest, detail: problem))
        }
        let app: APNsApp
        do {
            app = try self.app(named: item.app)
        } catch {
            return .failure(LocalRejection(reason: .unknownApp, detail: error.description))
        }
        var pushType = APNsPushType.alert
        if let name = item.pushType {
            guard let type = APNsPushType(rawValue: name) else {
                let shown = name.count > 40 ? String(name.prefix(40)) + "…" : name
                return .failure(LocalRejection(reason: .invalidPushType, detail: "unknown pushType \"\(shown)\""))
            }
            pushType = type
        }
        let priority: APNsPriority?
        switch Self.priority(of: item) {
        case .success(let value): priority = value
        case .failure(let rejection): return .failure(rejection)
        }
        guard let token = item.token, let payload else {
            return .failure(LocalRejection(reason: .badRequest, detail: "missing \"token\" or \"payload\""))
        }
        let notification = APNsNotification(
            token: token,
            payload: payload,
            pushType: pushType,
            topic: item.topic ?? app.topic(for: pushType),
            priority: priority,
            expiration: item.expiration,
            collapseID: item.collapseID,
            apnsID: item.apnsID
        )
        var client = app.client
        if let name = item.environment {
            let environment: APNsTokenEnvironment
            switch name {
            case "production": environment = .production
            case "sandbox", "development": environment = .development
            default:
                let shown = name.count > 40 ? String(name.prefix(40)) + "…" : name
                return .failure(LocalRejection(
                    reason: .badRequest, detail: "\"environment\" must be \"production\" or \"sandbox\", not \"\(shown)\""))
            }
            guard let found = app.client(for: environment) else {
                return .failure(LocalRejection(
                    reason: .badRequest, detail: "app \(app.name) has no \(name) connection (see the configuration's environments)"))
            }
            client = found
        }
        return .success((notification, client))
    }
}

extension APNsApps {
    /// Turns a scanned item with `channelId` into a broadcast for its app's client, or the local result that
    /// rejects it. Broadcasts are Live Activity pushes: `pushType`, `topic` and `collapseId` do not apply.
    func broadcast(for item: ScannedItem, payload: JSONObjectBytes?) -> Result<(APNsBroadcast, APNsClient), LocalRejection> {
        if let problem = item.problem {
            return .failure(LocalRejection(reason: .badRequest, detail: problem))
        }
        if item.topic != nil || item.collapseID != nil || item.apnsID != nil
            || (item.pushType != nil && item.pushType != APNsPushType.liveactivity.rawValue)
        {
            return .failure(LocalRejection(
                reason: .badRequest,
                detail: "a broadcast (\"channelId\") is a Live Activity push: \"topic\", \"collapseId\", \"apnsId\" and other push types do not apply"))
        }
        let app: APNsApp
        do {
            app = try self.app(named: item.app)
        } catch {
            return .failure(LocalRejection(reason: .unknownApp, detail: error.description))
        }
        let priority: APNsPriority?
        switch Self.priority(of: item) {
        case .success(let value): priority = value
        case .failure(let rejection): return .failure(rejection)
        }
        guard let channelID = item.channelID, let payload else {
            return .failure(LocalRejection(reason: .badRequest, detail: "missing \"channelId\" or \"payload\""))
        }
        let broadcast = APNsBroadcast(
            bundleID: app.bundleID, channelID: channelID, payload: payload.buffer, priority: priority,
            expiration: item.expiration)
        return .success((broadcast, app.client))
    }
}

/// A notification refused by the intake itself before reaching a client.
struct LocalRejection: Error {
    var reason: IntakeRejectionReason
    var detail: String

    var result: APNsResult { APNsResult(source: .local, reason: reason.name, detail: detail) }
}

extension APNsApps {
    /// An item's `priority`, or the local result that rejects it: the same rule for notifications and broadcasts.
    static func priority(of item: ScannedItem) -> Result<APNsPriority?, LocalRejection> {
        guard let value = item.priority else { return .success(nil) }
        guard let known = APNsPriority(rawValue: Int(clamping: value)) else {
            return .failure(LocalRejection(reason: .badPriority, detail: "priority \(value) is not one of 10, 5 or 1"))
        }
        return .success(known)
    }
}
