import APNs
import APNsCore
import Foundation
import Intake
import Logging
import NIOCore
import Observability

/// The gateway's configuration file, validated as a whole before anything starts.
///
/// Relative paths are resolved against the configuration file's folder. Secrets can come from the
/// environment instead: `APNS_GATEWAY_APP_<NAME>_KEY_PATH` (a .p8 path) or `APNS_GATEWAY_APP_<NAME>_KEY`
/// (the key's PEM text), where `<NAME>` is the app's name in upper case with other characters as `_`.
/// `APNS_GATEWAY_SOCKET_PATH` overrides `intake.socketPath`.
struct GatewayConfig {
    struct App {
        var name: String
        var teamID: String
        var keyID: String
        var bundleID: String
        /// Where the key came from, for messages (never the key itself).
        var keySource: String
        var key: APNsSigningKey
    }

    var apps: [App]
    var defaultApp: String?
    var environment: APNsClientConfiguration.Environment
    var connections = 2
    var maxConcurrentStreams = 1000
    /// Set in the config, or ``defaultMaxOutstanding``.
    var configuredMaxOutstanding: Int?
    /// Notifications queued plus in flight, per app: what the config says, or four times the streams the pool
    /// can have open. More only holds memory (every stream is busy already); less can leave streams idle
    /// between one answer and the next notification.
    var maxOutstanding: Int { configuredMaxOutstanding ?? 4 * connections * maxConcurrentStreams }
    var requestTimeout = 30.0
    var connectTimeout = 10.0
    var pingInterval = 60.0
    var pingTimeout = 10.0
    /// Seconds a connection with notifications waiting may read nothing before it probes with a PING.
    var stallTimeout = 5.0
    /// Seconds that probe may go unanswered before the connection is replaced.
    var stallPingTimeout = 3.0
    /// Seconds before the first reconnect after a failed connect; doubles per failure in a row.
    var reconnectInitialBackoff = 0.1
    /// The most seconds between reconnect attempts.
    var reconnectMaxBackoff = 5.0
    var shutdownGrace = 5.0
    var maxAttempts = 3
    var intake: IntakeConfiguration
    var logLevel: Logger.Level = .info
    /// `liveActivities`; nil when absent (the Live Activity ops then answer `LiveActivitiesDisabled`).
    var liveActivities: LiveActivitySettings?
    var logFormat: LogFormat = .logfmt
    /// The operations endpoint's address; nil: none.
    var metricsListen: MetricsListen?

    static func load(path: String, environment env: [String: String] = ProcessInfo.processInfo.environment) throws -> GatewayConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(key: "", problem: "cannot read the configuration file \(path)")
        }
        let base = URL(fileURLWithPath: path).deletingLastPathComponent().path
        return try parse(data, name: path, baseDirectory: base, environment: env)
    }

    static func parse(_ data: Data, name: String, baseDirectory: String, environment env: [String: String]) throws -> GatewayConfig {
        func resolve(_ path: String) -> String {
            path.hasPrefix("/") ? path : URL(fileURLWithPath: baseDirectory).appendingPathComponent(path).standardized.path
        }
        var root = try ConfigObject.parse(data, name: name)

        guard var appObjects = try root.objects("apps"), !appObjects.isEmpty else {
            throw ConfigError(key: "apps", problem: "is required: a list of at least one app")
        }
        var apps: [App] = []
        for index in appObjects.indices {
            var object = appObjects[index]
            let name = try object.requiredString("name")
            guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }), name.utf8.count <= 64 else {
                throw ConfigError(key: object.key("name"), problem: "use letters, digits, - and _ (at most 64)")
            }
            guard !apps.contains(where: { $0.name == name }) else {
                throw ConfigError(key: object.key("name"), problem: "\"\(name)\" is used by two apps")
            }
            let teamID = try identifier(&object, "teamId")
            let keyID = try identifier(&object, "keyId")
            let bundleID = try object.requiredString("bundleId")
            let envName = "APNS_GATEWAY_APP_" + String(name.uppercased().map { $0.isLetter || $0.isNumber ? $0 : "_" })
            var keyPath = try object.string("keyPath").map(resolve)
            var keySource = keyPath ?? ""
            let key: APNsSigningKey
            if let pem = env[envName + "_KEY"], !pem.isEmpty {
                keySource = "$\(envName)_KEY"
                do {
                    key = try APNsSigningKey(pkcs8PEM: pem)
                } catch {
                    throw ConfigError(key: keySource, problem: "\(error)")
                }
            } else {
                if let override = env[envName + "_KEY_PATH"], !override.isEmpty {
                    keyPath = resolve(override)
                    keySource = "$\(envName)_KEY_PATH (\(override))"
                }
                guard let keyPath else {
                    throw ConfigError(
                        key: object.key("keyPath"), problem: "is required (or set \(envName)_KEY_PATH or \(envName)_KEY)")
                }
                try checkKeyFile(keyPath, key: object.key("keyPath"))
                do {
                    key = try APNsSigningKey(contentsOfFile: keyPath)
                } catch {
                    throw ConfigError(key: object.key("keyPath"), problem: "\(error)")
                }
            }
            try object.finish()
            appObjects[index] = object
            apps.append(App(name: name, teamID: teamID, keyID: keyID, bundleID: bundleID, keySource: keySource, key: key))
        }

        let defaultApp = try root.string("defaultApp")
        if let defaultApp, !apps.contains(where: { $0.name == defaultApp }) {
            throw ConfigError(key: "defaultApp", problem: "\"\(defaultApp)\" is not one of the apps")
        }

        let environment = try parseEnvironment(&root, resolve: resolve)

        var intakeObject = try root.object("intake") ?? ConfigObject([:], path: "intake")
        var socketPath = try intakeObject.string("socketPath") ?? "/run/apns-gateway/intake.sock"
        if let override = env["APNS_GATEWAY_SOCKET_PATH"], !override.isEmpty { socketPath = override }
        socketPath = resolve(socketPath)
        var intake = IntakeConfiguration(socketPath: socketPath)
        if let mode = try intakeObject.string("socketMode") {
            guard let value = UInt16(mode, radix: 8), value <= 0o777 else {
                throw ConfigError(key: "intake.socketMode", problem: "must be an octal file mode such as \"0660\"")
            }
            intake.socketMode = value
        }
        if let owner = try intakeObject.string("socketOwner") {
            intake.socketOwner = try userID(owner, key: "intake.socketOwner")
        }
        if let group = try intakeObject.string("socketGroup") {
            intake.socketGroup = try groupID(group, key: "intake.socketGroup")
        }
        intake.maxLineBytes = try intakeObject.int("maxLineBytes", in: 1024...(1 << 30)) ?? intake.maxLineBytes
        intake.maxBatchSize = try intakeObject.int("maxBatchSize", in: 1...1_000_000) ?? intake.maxBatchSize
        intake.maxConnections = try intakeObject.int("maxConnections", in: 1...100_000) ?? intake.maxConnections
        if let seconds = try intakeObject.seconds("operationTimeoutSeconds", in: 1...86_400) {
            intake.operationTimeout = .nanoseconds(Int64(seconds * 1e9))
        }
        try intakeObject.finish()

        var config = GatewayConfig(apps: apps, defaultApp: defaultApp, environment: environment, intake: intake)
        if var pool = try root.object("pool") {
            config.connections = try pool.int("connections", in: 1...64) ?? config.connections
            config.maxConcurrentStreams = try pool.int("maxConcurrentStreams", in: 1...10_000) ?? config.maxConcurrentStreams
            config.configuredMaxOutstanding = try pool.int("maxOutstanding", in: 1...10_000_000)
            config.reconnectInitialBackoff =
                try pool.seconds("reconnectInitialBackoffSeconds", in: 0.01...60) ?? config.reconnectInitialBackoff
            config.reconnectMaxBackoff = try pool.seconds("reconnectMaxBackoffSeconds", in: 0.01...600) ?? config.reconnectMaxBackoff
            guard config.reconnectMaxBackoff >= config.reconnectInitialBackoff else {
                throw ConfigError(
                    key: pool.key("reconnectMaxBackoffSeconds"),
                    problem: "must be at least pool.reconnectInitialBackoffSeconds (\(config.reconnectInitialBackoff))")
            }
            try pool.finish()
        }
        if var timeouts = try root.object("timeouts") {
            config.requestTimeout = try timeouts.seconds("requestSeconds", in: 0.1...3600) ?? config.requestTimeout
            config.connectTimeout = try timeouts.seconds("connectSeconds", in: 0.1...600) ?? config.connectTimeout
            config.pingInterval = try timeouts.seconds("pingIntervalSeconds", in: 1...86_400) ?? config.pingInterval
            config.pingTimeout = try timeouts.seconds("pingTimeoutSeconds", in: 0.1...600) ?? config.pingTimeout
            config.stallTimeout = try timeouts.seconds("stallSeconds", in: 0.1...600) ?? config.stallTimeout
            config.stallPingTimeout =
                try timeouts.seconds("stallPingTimeoutSeconds", in: 0.1...600) ?? config.stallPingTimeout
            config.shutdownGrace = try timeouts.seconds("shutdownGraceSeconds", in: 0...600) ?? config.shutdownGrace
            try timeouts.finish()
        }
        if var retry = try root.object("retry") {
            config.maxAttempts = try retry.int("maxAttempts", in: 1...20) ?? config.maxAttempts
            try retry.finish()
        }
        if var liveActivities = try root.object("liveActivities") {
            config.liveActivities = try LiveActivitySettings.parse(&liveActivities, resolve: resolve)
        }
        try parseObservability(&root, into: &config)
        try root.finish()
        return config
    }

    private static func identifier(_ object: inout ConfigObject, _ name: String) throws -> String {
        let value = try object.requiredString(name)
        guard value.utf8.count == 10, value.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else {
            throw ConfigError(key: object.key(name), problem: "must be 10 letters or digits (as shown in Apple's developer account)")
        }
        return value
    }

    private static func parseEnvironment(_ root: inout ConfigObject, resolve: (String) -> String) throws
        -> APNsClientConfiguration.Environment
    {
        guard let value = root.raw("environment") else {
            throw ConfigError(key: "environment", problem: "is required: \"production\", \"sandbox\" or {\"host\", \"port\", \"caFile\"}")
        }
        if let name = value as? String {
            switch name {
            case "production": return .production
            case "sandbox": return .sandbox
            default: throw ConfigError(key: "environment", problem: "must be \"production\", \"sandbox\" or a custom endpoint object")
            }
        }
        guard let object = value as? [String: Any] else {
            throw ConfigError(key: "environment", problem: "must be \"production\", \"sandbox\" or a custom endpoint object")
        }
        var custom = ConfigObject(object, path: "environment")
        let host = try custom.requiredString("host")
        guard let port = try custom.int("port", in: 1...65535) else {
            throw ConfigError(key: "environment.port", problem: "is required")
        }
        let serverName = try custom.string("serverName")
        let caFile = try custom.string("caFile").map(resolve)
        if let caFile, !FileManager.default.isReadableFile(atPath: caFile) {
            throw ConfigError(key: "environment.caFile", problem: "cannot read \(caFile)")
        }
        try custom.finish()
        return .custom(host: host, port: port, serverName: serverName, caFile: caFile)
    }

    /// Refuses key files that group or others can read (or that are missing).
    static func checkKeyFile(_ path: String, key: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw ConfigError(key: key, problem: "cannot read the key file \(path)")
        }
        let mode = info.st_mode & 0o777
        if mode & 0o077 != 0 {
            throw ConfigError(
                key: key,
                problem: "the key file \(path) is accessible by group or others (mode \(String(mode, radix: 8))); "
                    + "run: chmod 600 \(path)")
        }
    }

    /// The APNs client settings for one app.
    func clientConfiguration(for app: App) throws -> APNsClientConfiguration {
        let tokens = try APNsProviderTokenCache(key: app.key, keyID: app.keyID, teamID: app.teamID)
        return APNsClientConfiguration(
            environment: environment,
            authentication: .token(tokens),
            connectionCount: connections,
            maxConcurrentStreams: maxConcurrentStreams,
            maxOutstanding: maxOutstanding,
            requestTimeout: .nanoseconds(Int64(requestTimeout * 1e9)),
            retry: APNsRetryPolicy(maxAttempts: maxAttempts),
            connectTimeout: .nanoseconds(Int64(connectTimeout * 1e9)),
            pingInterval: .nanoseconds(Int64(pingInterval * 1e9)),
            pingTimeout: .nanoseconds(Int64(pingTimeout * 1e9)),
            stallTimeout: .nanoseconds(Int64(stallTimeout * 1e9)),
            stallPingTimeout: .nanoseconds(Int64(stallPingTimeout * 1e9)),
            reconnectInitialBackoff: .nanoseconds(Int64(reconnectInitialBackoff * 1e9)),
            reconnectMaxBackoff: .nanoseconds(Int64(reconnectMaxBackoff * 1e9))
        )
    }
}

/// A user name or numeric ID, as a user ID.
func userID(_ text: String, key: String) throws -> UInt32 {
    if let id = UInt32(text) { return id }
    guard let entry = getpwnam(text) else { throw ConfigError(key: key, problem: "no user named \"\(text)\"") }
    return entry.pointee.pw_uid
}

/// A group name or numeric ID, as a group ID.
func groupID(_ text: String, key: String) throws -> UInt32 {
    if let id = UInt32(text) { return id }
    guard let entry = getgrnam(text) else { throw ConfigError(key: key, problem: "no group named \"\(text)\"") }
    return entry.pointee.gr_gid
}
