import APNs
import ArgumentParser
import Foundation
import Intake
import LiveActivity
import LiveActivityPostgres
import LiveActivityService
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Observability
import ServiceLifecycle
import UnixSignals

/// `apns-gateway serve --config FILE`: runs the daemon until SIGTERM or SIGINT.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the gateway: connect to APNs and serve the intake socket until SIGTERM/SIGINT.",
        discussion: """
            Prints "apns-gateway ready on <socket>" on standard output once the intake socket listens and, when \
            started by systemd with Type=notify, sends READY=1 to $NOTIFY_SOCKET (STOPPING=1 when it begins to \
            stop). Logs go to standard error. SIGTERM or SIGINT: stop accepting, answer every accepted \
            notification within timeouts.shutdownGraceSeconds, remove the socket, exit 0. SIGHUP: reload the \
            configuration file's apps' keys and certificates and the log level; pushes in flight finish. Environment: \
            APNS_GATEWAY_APP_<NAME>_KEY_PATH or APNS_GATEWAY_APP_<NAME>_KEY (an app's .p8 key), \
            APNS_GATEWAY_SOCKET_PATH (the intake socket), APNS_GATEWAY_MALLOC_TUNING=off (keep glibc's malloc \
            defaults instead of a fixed 128 KiB mmap threshold), APNS_GATEWAY_MALLOC_MMAP_THRESHOLD and \
            APNS_GATEWAY_MALLOC_TRIM_THRESHOLD (bytes).
            """
    )

    @Option(name: .shortAndLong, help: "The configuration file (JSON).")
    var config: String

    func run() async throws {
        // First, before the buffers it is about come into use.
        let malloc = try MallocTuning.fromEnvironment(ProcessInfo.processInfo.environment)
        let mallocApplied = malloc.apply()
        let settings: GatewayConfig
        do {
            settings = try GatewayConfig.load(path: config)
        } catch let error as ConfigError {
            throw GatewayFailure("invalid configuration \(config): \(error)")
        }
        StructuredLogHandler.bootstrap(format: settings.logFormat, level: settings.logLevel)
        let logger = Logger(label: "apns.gateway")
        if mallocApplied {
            logger.debug("malloc tuning", metadata: ["settings": "\(malloc.description)"])
        } else {
            logger.warning("malloc tuning refused by the C library", metadata: ["settings": "\(malloc.description)"])
        }
        // SIGTERM and SIGINT mean a graceful stop from here on, even while the gateway is still starting; SIGHUP
        // reloads the configuration (trapped at once, so that one sent during start-up does not end the process).
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        let gateway = GatewayService(configPath: config, settings: settings, hangups: hangups, logger: logger)
        let services = ServiceGroup(services: [gateway], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await services.run()
    }
}

extension ServeCommand {
    /// Opens the Live Activity registry in its store: the SQLite file, or the PostgreSQL database (migrated, its
    /// pool started; a refused login or an unreachable server fails here, naming the SQLSTATE or the cause).
    static func openRegistry(
        _ store: RegistryStoreSettings,
        group: any EventLoopGroup,
        logger: Logger
    ) async throws -> any LiveActivityRegistry {
        switch store {
        case .sqlite(let path):
            return try openRegistry(at: path)
        case .postgres(let settings):
            let configuration = settings.registryConfiguration()
            // Connecting blocks its thread until the server answers: on the thread pool, not on a task's thread.
            let opened = NIOThreadPool.singleton.runIfActive(eventLoop: group.any()) { () throws -> PostgresLiveActivityRegistry in
                try PostgresLiveActivityRegistry(
                    configuration: configuration, eventLoopGroup: group, logger: Logger(label: "apns.registry.postgres"))
            }
            do {
                let registry = try await opened.get()
                logger.info("Live Activity registry on PostgreSQL", metadata: [
                    "store": "\(configuration)", "claimer": "\(registry.claimerID)",
                    "leaseSeconds": "\(configuration.leaseSeconds)", "poolSize": "\(configuration.poolSize)",
                ])
                return registry
            } catch {
                throw GatewayFailure("liveActivities.store.postgres: cannot open \(configuration): \(error)")
            }
        }
    }

    /// Opens (creating if needed) the Live Activity registry; its folder is created with mode 0750 if missing.
    static func openRegistry(at path: String) throws -> SQLiteLiveActivityRegistry {
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        if !FileManager.default.fileExists(atPath: folder) {
            do {
                try FileManager.default.createDirectory(
                    atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
            } catch {
                throw GatewayFailure("liveActivities.registryPath: cannot create the folder \(folder): \(error.localizedDescription)")
            }
        }
        do {
            return try SQLiteLiveActivityRegistry(path: path)
        } catch {
            throw GatewayFailure("liveActivities.registryPath: cannot open \(path): \(error)")
        }
    }
}
