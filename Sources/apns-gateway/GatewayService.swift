import APNs
import APNsCore
import Foundation
import Intake
import LiveActivity
import LiveActivityService
import Logging
import NIOCore
import NIOPosix
import Observability
import ServiceLifecycle
import UnixSignals

/// The running gateway as a service of a `ServiceGroup`: starts the APNs clients, the Live Activity service,
/// the intake and the operations endpoint; reloads the configuration on each SIGHUP; on graceful shutdown
/// (SIGTERM, SIGINT) stops them in order, letting accepted notifications finish within the grace.
struct GatewayService: Service {
    let configPath: String
    let settings: GatewayConfig
    let hangups: UnixSignalsSequence
    let logger: Logger

    func run() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)

        var apps: [APNsApp] = []
        /// Every client with its app's name (an app with two environments has two).
        var appClients: [(app: String, client: APNsClient)] = []
        for app in settings.apps {
            var clientLogger = Logger(label: "apns.client.\(app.name)")
            clientLogger[metadataKey: "app"] = "\(app.name)"
            let client = try APNsClient(
                configuration: settings.clientConfiguration(for: app), group: group, logger: clientLogger)
            client.start()
            appClients.append((app.name, client))
            var others: [APNsTokenEnvironment: APNsClient] = [:]
            if let other = settings.otherEnvironment {
                clientLogger[metadataKey: "environment"] = "\(other.tokens == .production ? "production" : "sandbox")"
                let second = try APNsClient(
                    configuration: settings.clientConfiguration(for: app, other: true), group: group, logger: clientLogger)
                second.start()
                appClients.append((app.name, second))
                others[other.tokens] = second
            }
            apps.append(APNsApp(
                name: app.name, bundleID: app.bundleID, client: client, tokenEnvironment: settings.tokenEnvironment,
                otherEnvironments: others))
            var metadata: Logger.Metadata = [
                "app": "\(app.name)", "bundleId": "\(app.bundleID)", "environment": "\(settings.environment.name)",
            ]
            if let other = settings.otherEnvironment { metadata["otherEnvironment"] = "\(other.environment.name)" }
            if app.certificate != nil {
                metadata["certificate"] = "\(app.keySource)"
            } else {
                metadata["teamId"] = "\(app.teamID)"
                metadata["keyId"] = "\(app.keyID)"
            }
            if let proxy = settings.proxy { metadata["proxy"] = "\(proxy.host):\(proxy.port)" }
            logger.info("app configured", metadata: metadata)
        }
        let clients = appClients.map(\.client)
        var registry: (any LiveActivityRegistry)?
        var service: LiveActivityService?
        let operations: [String: any IntakeOperation]
        if let liveActivities = settings.liveActivities {
            do {
                let opened = try await ServeCommand.openRegistry(liveActivities.store, group: group, logger: logger)
                registry = opened
                let created = LiveActivityService(
                    registry: opened, apps: apps, defaultApp: settings.defaultApp,
                    configuration: liveActivities.serviceConfiguration(environment: settings.environment), group: group,
                    logger: Logger(label: "apns.live-activity"))
                service = created
                operations = created.operations
                logger.info("Live Activities enabled", metadata: ["registry": "\(liveActivities.store)"])
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
            endpoint = try await ServeCommand.startOperationsEndpoint(
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
        let readiness = Task { [appClients] in
            for (app, client) in appClients {
                do {
                    try await client.waitUntilReady(timeout: connectTimeout)
                    logger.info("APNs connection ready", metadata: ["app": "\(app)", "environment": "\(client.configuration.environment.name)"])
                } catch {
                    logger.warning("APNs not reachable yet; will keep trying", metadata: ["app": "\(app)", "error": "\(error)"])
                }
            }
        }
        // Until a graceful stop (SIGTERM, SIGINT): each SIGHUP reloads the configuration.
        let reloader = GatewayReloader(
            configPath: configPath, running: settings,
            clients: Dictionary(grouping: appClients, by: \.app).mapValues { $0.map(\.client) }, logger: logger)
        await withTaskGroup(of: Void.self) { tasks in
            tasks.addTask { [hangups] in
                for await _ in hangups { reloader.reload() }
            }
            try? await gracefulShutdown()
            tasks.cancelAll()
        }
        readiness.cancel()
        logger.info("shutting down", metadata: ["graceSeconds": "\(settings.shutdownGrace.inSeconds)"])
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
