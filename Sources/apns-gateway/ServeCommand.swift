import APNs
import ArgumentParser
import Foundation
import Intake
import LiveActivity
import LiveActivityService
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Observability

/// `apns-gateway serve --config FILE`: runs the daemon until SIGTERM or SIGINT.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the gateway: connect to APNs and serve the intake socket until SIGTERM/SIGINT.",
        discussion: """
            Prints "apns-gateway ready on <socket>" on standard output once the intake socket listens and, when \
            started by systemd with Type=notify, sends READY=1 to $NOTIFY_SOCKET (STOPPING=1 when it begins to \
            stop). Logs go to standard error. SIGTERM or SIGINT: stop accepting, answer every accepted \
            notification within timeouts.shutdownGraceSeconds, remove the socket, exit 0. Environment: \
            APNS_GATEWAY_APP_<NAME>_KEY_PATH or APNS_GATEWAY_APP_<NAME>_KEY (an app's .p8 key), \
            APNS_GATEWAY_SOCKET_PATH (the intake socket).
            """
    )

    @Option(name: .shortAndLong, help: "The configuration file (JSON).")
    var config: String

    func run() async throws {
        let settings: GatewayConfig
        do {
            settings = try GatewayConfig.load(path: config)
        } catch let error as ConfigError {
            throw GatewayFailure("invalid configuration \(config): \(error)")
        }
        StructuredLogHandler.bootstrap(format: settings.logFormat, level: settings.logLevel)
        let logger = Logger(label: "apns.gateway")
        // From here on SIGTERM and SIGINT mean a graceful stop, even while the gateway is still starting.
        let signals = SignalWaiter(listeningTo: [SIGINT, SIGTERM])
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)

        var apps: [APNsApp] = []
        var clients: [APNsClient] = []
        for app in settings.apps {
            var clientLogger = Logger(label: "apns.client.\(app.name)")
            clientLogger[metadataKey: "app"] = "\(app.name)"
            let client = try APNsClient(
                configuration: settings.clientConfiguration(for: app), group: group, logger: clientLogger)
            client.start()
            clients.append(client)
            apps.append(APNsApp(
                name: app.name, bundleID: app.bundleID, client: client,
                tokenEnvironment: LiveActivitySettings.tokenEnvironment(for: settings.environment)))
            logger.info(
                "app configured",
                metadata: [
                    "app": "\(app.name)", "bundleId": "\(app.bundleID)", "teamId": "\(app.teamID)", "keyId": "\(app.keyID)",
                    "environment": "\(settings.environment.name)",
                ])
        }
        var registry: SQLiteLiveActivityRegistry?
        var service: LiveActivityService?
        let operations: [String: any IntakeOperation]
        if let liveActivities = settings.liveActivities {
            do {
                let opened = try Self.openRegistry(at: liveActivities.registryPath)
                registry = opened
                let created = LiveActivityService(
                    registry: opened, apps: apps, defaultApp: settings.defaultApp,
                    configuration: liveActivities.serviceConfiguration(environment: settings.environment), group: group,
                    logger: Logger(label: "apns.live-activity"))
                service = created
                operations = created.operations
                logger.info("Live Activities enabled", metadata: ["registry": "\(liveActivities.registryPath)"])
            } catch {
                for client in clients { await client.shutdown(grace: .zero) }
                try? await group.shutdownGracefully()
                throw GatewayFailure("\(error)")
            }
        } else {
            operations = LiveActivityService.disabledOperations(
                message: "Live Activities are not configured: add \"liveActivities\": {\"registryPath\": ...} to the "
                    + "gateway's configuration")
        }
        let intake: IntakeServer
        do {
            intake = try await IntakeServer.start(
                configuration: settings.intake, apps: apps, defaultApp: settings.defaultApp, operations: operations,
                group: group, logger: Logger(label: "apns.intake"))
        } catch {
            await service?.close()
            registry?.close()
            for client in clients { await client.shutdown(grace: .zero) }
            try? await group.shutdownGracefully()
            throw GatewayFailure("\(error)")
        }
        let endpoint: ObservabilityServer?
        do {
            endpoint = try await Self.startOperationsEndpoint(
                settings: settings, intake: intake, liveActivities: service, group: group,
                logger: Logger(label: "apns.observability"))
        } catch {
            await intake.shutdown(grace: .zero)
            await service?.close()
            registry?.close()
            try? await group.shutdownGracefully()
            throw error
        }
        service?.startScheduler()
        // One line on standard output for scripts and tests that wait for readiness, and systemd's READY=1.
        FileHandle.standardOutput.write(Data("apns-gateway ready on \(settings.intake.socketPath)\n".utf8))
        let systemd = SystemdNotifier.fromEnvironment()
        if let failure = systemd.notify("READY=1\nSTATUS=serving on \(settings.intake.socketPath)") {
            logger.warning("cannot notify systemd", metadata: ["error": "\(failure)"])
        }
        // Whether each app reached APNs in time is only reported: a signal is answered meanwhile.
        let connectTimeout = settings.connectTimeout
        let readiness = Task { [apps = settings.apps] in
            for (app, client) in zip(apps, clients) {
                do {
                    try await client.waitUntilReady(timeout: connectTimeout)
                    logger.info("APNs connection ready", metadata: ["app": "\(app.name)"])
                } catch {
                    logger.warning("APNs not reachable yet; will keep trying", metadata: ["app": "\(app.name)", "error": "\(error)"])
                }
            }
        }
        let signal = await signals.next()
        readiness.cancel()
        logger.info("signal received, shutting down", metadata: ["signal": "\(signal)", "graceSeconds": "\(settings.shutdownGrace.inSeconds)"])
        systemd.notify("STOPPING=1\nSTATUS=shutting down: answering accepted notifications")
        // Scheduled ends stop first (one being sent still goes out), then the intake answers what it accepted
        // and shuts the clients down, then the registry closes.
        await service?.stopScheduler()
        await intake.shutdown(grace: settings.shutdownGrace)
        await service?.close()
        registry?.close()
        await endpoint?.shutdown()
        try? await group.shutdownGracefully()
        logger.info("stopped")
    }
}

extension ServeCommand {
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

/// Waits for the first of some signals; their default action (ending the process) is turned off.
///
/// `@unchecked Sendable`: the dispatch sources (not `Sendable`) are only touched under the lock around them.
final class SignalWaiter: @unchecked Sendable {
    private let state = NIOLockedValueBox<(received: Int32?, waiter: CheckedContinuation<Int32, Never>?)>((nil, nil))
    private let sources: NIOLockedValueBox<[any DispatchSourceSignal]>

    /// Turns off the signals' default action (ending the process) and starts listening; a signal that comes
    /// before anyone waits is kept for ``next()``.
    init(listeningTo signals: [Int32]) {
        let queue = DispatchQueue(label: "apns-gateway.signals")
        let state = self.state
        var list: [any DispatchSourceSignal] = []
        for number in signals {
            Foundation.signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler {
                let waiter = state.withLockedValue { state -> CheckedContinuation<Int32, Never>? in
                    guard state.received == nil else { return nil }
                    state.received = number
                    defer { state.waiter = nil }
                    return state.waiter
                }
                waiter?.resume(returning: number)
            }
            source.resume()
            list.append(source)
        }
        sources = NIOLockedValueBox(list)
    }

    /// The first signal received: at once if it has come already.
    func next() async -> Int32 {
        let received = await withCheckedContinuation { (continuation: CheckedContinuation<Int32, Never>) in
            let now = state.withLockedValue { state -> Int32? in
                if let received = state.received { return received }
                state.waiter = continuation
                return nil
            }
            if let now { continuation.resume(returning: now) }
        }
        sources.withLockedValue { list in
            for source in list { source.cancel() }
        }
        return received
    }
}
