import APNs
import CoreMetrics
import Intake
import LiveActivityService
import Logging
import NIOCore
import Observability
import Prometheus

extension ServeCommand {
    /// Starts the operations endpoint when the configuration has `metrics.listen`: `/metrics` from the intake's
    /// and the clients' figures, `/healthz`, and `/readyz` with the connect timeout as each app's reconnect
    /// budget. swift-metrics is bootstrapped with the same Prometheus registry.
    static func startOperationsEndpoint(
        settings: GatewayConfig, intake: IntakeServer, liveActivities: LiveActivityService?, group: any EventLoopGroup,
        logger: Logger
    ) async throws -> ObservabilityServer? {
        guard let listen = settings.metricsListen else { return nil }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        var statistics: (@Sendable () -> LiveActivityStatistics)?
        var channels: (@Sendable () -> [GatewayMetrics.ChannelCount])?
        if let liveActivities {
            statistics = { liveActivities.statistics }
            channels = {
                liveActivities.channelCounts.map { GatewayMetrics.ChannelCount(app: $0.key.app, environment: $0.key.environment, count: $0.value) }
            }
        }
        let metrics = GatewayMetrics(registry: registry, intake: intake, liveActivities: statistics, channels: channels)
        let apps = intake.apps
        let budget = settings.connectTimeout
        do {
            return try await ObservabilityServer.start(
                host: listen.host, port: listen.port, group: group, metrics: metrics,
                readiness: { Readiness.evaluate(apps: apps.map { ($0.name, $0.client.statistics) }, budget: budget) },
                logger: logger)
        } catch {
            throw GatewayFailure("cannot listen on \(listen.host):\(listen.port) (metrics.listen): \(error)")
        }
    }
}
