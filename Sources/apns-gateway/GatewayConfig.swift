import APNs
import APNsCore
import Foundation
import JSON
import HTTP2Engine
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
        var bundleID: String
        /// Provider-token authentication (`teamId`, `keyId`, `keyPath`); empty and nil with a certificate.
        var teamID: String
        var keyID: String
        /// Where the key or certificate came from, for messages (never the secret itself).
        var keySource: String
        var key: APNsSigningKey?
        /// Certificate authentication (`certificate`) instead of provider tokens.
        var certificate: TLSConfiguration.ClientCertificate?
    }

    // The defaults and ranges are the components' own (`default…` and `…Range` of the configuration types);
    // nothing here restates them.
    var apps: [App]
    var defaultApp: String?
    var environment: APNsClientConfiguration.Environment
    /// `environment.proxy`: the HTTP proxy the connections tunnel through; nil: none.
    var proxy: HTTP2Proxy?
    /// The tokens ``environment`` reaches; nil for a custom `environment`, which takes every token.
    var tokenEnvironment: APNsTokenEnvironment?
    /// With `environments`: the second set of connections of every app, for tokens of the other environment.
    var otherEnvironment: OtherEnvironment?
    var connections = HTTP2PoolConfiguration.defaultConnectionCount
    var maxConcurrentStreams = HTTP2ConnectionConfiguration.defaultMaxConcurrentStreams
    /// Set in the config, or nil for the client's rule (``maxOutstanding``).
    var configuredMaxOutstanding: Int?
    /// Notifications queued plus in flight, per app: what the config says, or enough to keep every stream of
    /// the pool busy (``APNsClientConfiguration/maxOutstanding(connectionCount:maxConcurrentStreams:)``).
    var maxOutstanding: Int {
        configuredMaxOutstanding
            ?? APNsClientConfiguration.maxOutstanding(connectionCount: connections, maxConcurrentStreams: maxConcurrentStreams)
    }
    /// The bound on the bytes of those notifications, per app (payloads plus an estimated overhead each).
    var maxOutstandingBytes = APNsClientConfiguration.defaultMaxOutstandingBytes
    var requestTimeout = APNsClientConfiguration.defaultRequestTimeout
    var connectTimeout = HTTP2ConnectionConfiguration.defaultConnectTimeout
    var pingInterval = HTTP2ConnectionConfiguration.defaultPingInterval
    var pingTimeout = HTTP2ConnectionConfiguration.defaultPingTimeout
    /// How long a connection with notifications waiting may read nothing before it probes with a PING.
    var stallTimeout = HTTP2ConnectionConfiguration.defaultStallTimeout
    /// How long that probe may go unanswered before the connection is replaced.
    var stallPingTimeout = HTTP2ConnectionConfiguration.defaultStallPingTimeout
    /// The wait before the first reconnect after a failed connect; doubles per failure in a row.
    var reconnectInitialBackoff = HTTP2PoolConfiguration.defaultReconnectInitialBackoff
    /// The longest wait between reconnect attempts.
    var reconnectMaxBackoff = HTTP2PoolConfiguration.defaultReconnectMaxBackoff
    var shutdownGrace = IntakeConfiguration.defaultShutdownGrace
    var maxAttempts = APNsRetryPolicy.defaultMaxAttempts
    var intake: IntakeConfiguration
    var logLevel = GatewayConfig.defaultLogLevel
    /// The log level when the configuration gives none.
    static let defaultLogLevel: Logger.Level = .info
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
            let app = try parseApp(&appObjects[index], environment: env, resolve: resolve)
            guard !apps.contains(where: { $0.name == app.name }) else {
                throw ConfigError(key: appObjects[index].key("name"), problem: "\"\(app.name)\" is used by two apps")
            }
            apps.append(app)
        }

        let defaultApp = try root.string("defaultApp")
        if let defaultApp, !apps.contains(where: { $0.name == defaultApp }) {
            throw ConfigError(key: "defaultApp", problem: "\"\(defaultApp)\" is not one of the apps")
        }

        let (environment, proxy, tokenEnvironment, otherEnvironment) = try parseEnvironment(&root, resolve: resolve)

        var intakeObject = try root.object("intake") ?? ConfigObject.empty(path: "intake")
        var socketPath = try intakeObject.string("socketPath") ?? IntakeConfiguration.defaultSocketPath
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
        intake.maxLineBytes = try intakeObject.int("maxLineBytes", in: IntakeConfiguration.maxLineBytesRange) ?? intake.maxLineBytes
        intake.maxBatchSize = try intakeObject.int("maxBatchSize", in: IntakeConfiguration.maxBatchSizeRange) ?? intake.maxBatchSize
        intake.maxConnections =
            try intakeObject.int("maxConnections", in: IntakeConfiguration.maxConnectionsRange) ?? intake.maxConnections
        intake.operationTimeout =
            try duration(&intakeObject, "operationTimeoutSeconds", in: IntakeConfiguration.operationTimeoutRange)
            ?? intake.operationTimeout
        intake.network = try parseNetworkIntake(&intakeObject, resolve: resolve)
        try intakeObject.finish()

        var config = GatewayConfig(
            apps: apps, defaultApp: defaultApp, environment: environment, proxy: proxy, tokenEnvironment: tokenEnvironment,
            otherEnvironment: otherEnvironment, intake: intake)
        if var pool = try root.object("pool") {
            config.connections = try pool.int("connections", in: HTTP2PoolConfiguration.connectionCountRange) ?? config.connections
            config.maxConcurrentStreams =
                try pool.int("maxConcurrentStreams", in: HTTP2ConnectionConfiguration.maxConcurrentStreamsRange)
                ?? config.maxConcurrentStreams
            config.configuredMaxOutstanding = try pool.int("maxOutstanding", in: APNsClientConfiguration.maxOutstandingRange)
            config.maxOutstandingBytes =
                try pool.int("maxOutstandingBytes", in: APNsClientConfiguration.maxOutstandingBytesRange) ?? config.maxOutstandingBytes
            config.reconnectInitialBackoff =
                try duration(&pool, "reconnectInitialBackoffSeconds", in: HTTP2PoolConfiguration.reconnectInitialBackoffRange)
                ?? config.reconnectInitialBackoff
            config.reconnectMaxBackoff =
                try duration(&pool, "reconnectMaxBackoffSeconds", in: HTTP2PoolConfiguration.reconnectMaxBackoffRange)
                ?? config.reconnectMaxBackoff
            guard config.reconnectMaxBackoff >= config.reconnectInitialBackoff else {
                throw ConfigError(
                    key: pool.key("reconnectMaxBackoffSeconds"),
                    problem: "must be at least pool.reconnectInitialBackoffSeconds (\(config.reconnectInitialBackoff.inSeconds))")
            }
            try pool.finish()
        }
        if var timeouts = try root.object("timeouts") {
            config.requestTimeout =
                try duration(&timeouts, "requestSeconds", in: APNsClientConfiguration.requestTimeoutRange) ?? config.requestTimeout
            config.connectTimeout =
                try duration(&timeouts, "connectSeconds", in: HTTP2ConnectionConfiguration.connectTimeoutRange) ?? config.connectTimeout
            config.pingInterval =
                try duration(&timeouts, "pingIntervalSeconds", in: HTTP2ConnectionConfiguration.pingIntervalRange) ?? config.pingInterval
            config.pingTimeout =
                try duration(&timeouts, "pingTimeoutSeconds", in: HTTP2ConnectionConfiguration.pingTimeoutRange) ?? config.pingTimeout
            config.stallTimeout =
                try duration(&timeouts, "stallSeconds", in: HTTP2ConnectionConfiguration.stallTimeoutRange) ?? config.stallTimeout
            config.stallPingTimeout =
                try duration(&timeouts, "stallPingTimeoutSeconds", in: HTTP2ConnectionConfiguration.stallPingTimeoutRange)
                ?? config.stallPingTimeout
            config.shutdownGrace =
                try duration(&timeouts, "shutdownGraceSeconds", in: IntakeConfiguration.shutdownGraceRange) ?? config.shutdownGrace
            try timeouts.finish()
        }
        if var retry = try root.object("retry") {
            config.maxAttempts = try retry.int("maxAttempts", in: APNsRetryPolicy.maxAttemptsRange) ?? config.maxAttempts
            try retry.finish()
        }
        if var liveActivities = try root.object("liveActivities") {
            config.liveActivities = try LiveActivitySettings.parse(&liveActivities, resolve: resolve)
        }
        try parseObservability(&root, into: &config)
        try root.finish()
        return config
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

    /// The APNs client settings for one app: for its connections to ``environment``, or with `other` to
    /// ``otherEnvironment``.
    func clientConfiguration(for app: App, other: Bool = false) throws -> APNsClientConfiguration {
        let endpoint = other ? otherEnvironment.map { ($0.environment, $0.proxy) } ?? (environment, proxy) : (environment, proxy)
        let authentication: APNsClientConfiguration.Authentication
        if let certificate = app.certificate {
            authentication = .certificate(certificate)
        } else if let key = app.key {
            authentication = .token(try APNsProviderTokenCache(key: key, keyID: app.keyID, teamID: app.teamID))
        } else {
            throw ConfigError(key: "apps", problem: "\(app.name) has neither a key nor a certificate")
        }
        return APNsClientConfiguration(
            environment: endpoint.0,
            authentication: authentication,
            connectionCount: connections,
            maxConcurrentStreams: maxConcurrentStreams,
            maxOutstanding: maxOutstanding,
            maxOutstandingBytes: maxOutstandingBytes,
            requestTimeout: requestTimeout,
            retry: APNsRetryPolicy(maxAttempts: maxAttempts),
            connectTimeout: connectTimeout,
            pingInterval: pingInterval,
            pingTimeout: pingTimeout,
            stallTimeout: stallTimeout,
            stallPingTimeout: stallPingTimeout,
            reconnectInitialBackoff: reconnectInitialBackoff,
            reconnectMaxBackoff: reconnectMaxBackoff,
            proxy: endpoint.1
        )
    }
}

/// Reads `name` of `object` as seconds within a component's range of durations (``ConfigObject/seconds(_:in:)``).
func duration(_ object: inout ConfigObject, _ name: String, in range: ClosedRange<TimeAmount>) throws -> TimeAmount? {
    try object.seconds(name, in: range.lowerBound.inSeconds...range.upperBound.inSeconds).map { .nanoseconds(Int64($0 * 1e9)) }
}

extension TimeAmount {
    /// The amount in seconds, as configuration files give it.
    var inSeconds: Double { Double(nanoseconds) / 1e9 }
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
