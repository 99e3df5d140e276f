import APNs
import Intake
import LiveActivityService
import NIOConcurrencyHelpers
import Prometheus

/// The gateway's Prometheus exporter: reads the figures the intake and the apps' clients keep, the same ones
/// the intake's `stats` op reports, and writes them in the Prometheus text format.
///
/// Where the figures live, and why: every figure is kept by the component that owns it, in lock-free counters
/// (relaxed atomics, tables indexed by enum ordinals, sharded histograms; see ``LatencyHistogram``), so a
/// notification costs a few atomic adds and no lock, lookup or allocation. A scrape (``render()``) reads them
/// all and copies them into a swift-prometheus `PrometheusCollectorRegistry`: counters are advanced by what
/// they grew since the last scrape, gauges are set. That registry is the one the daemon bootstraps swift-metrics
/// with, so metrics recorded through swift-metrics anywhere in the process appear in the same output. Histograms
/// are written here from their snapshots: swift-prometheus's histograms can only be fed one observation at a
/// time, under a lock.
///
/// Threading: scrapes are serialised by a lock; everything they read is safe to read from any thread.
public final class GatewayMetrics: Sendable {
    /// The registry the counters and gauges are copied into.
    public let registry: PrometheusCollectorRegistry
    private let intake: IntakeServer?
    private let apps: [(name: String, client: APNsClient)]
    private let scheduledEnds: (@Sendable () -> [ScheduledEndCount])?
    private let liveActivities: (@Sendable () -> LiveActivityStatistics)?
    private let channels: (@Sendable () -> [ChannelCount])?
    private let exported = NIOLockedValueBox(Exported())

    private struct SeriesKey: Hashable {
        var name: String
        var labels: [String]
    }

    /// What the registry was given at the last scrape.
    private struct Exported {
        var counters: [SeriesKey: (counter: Counter, value: Int)] = [:]
        var gauges: [SeriesKey: Gauge] = [:]
    }

    /// One series of `apns_gateway_scheduled_ends_total`: settled scheduled ends of an app with an outcome.
    public struct ScheduledEndCount: Sendable, Hashable {
        public var app: String
        public var outcome: String
        public var count: Int

        public init(app: String, outcome: String, count: Int) {
            self.app = app
            self.outcome = outcome
            self.count = count
        }
    }

    /// One series of `apns_gateway_broadcast_channels`: the channels of an app (its name) in an environment.
    public struct ChannelCount: Sendable, Hashable {
        public var app: String
        public var environment: String
        public var count: Int

        public init(app: String, environment: String, count: Int) {
            self.app = app
            self.environment = environment
            self.count = count
        }
    }

    /// An exporter for `intake` (its figures and its apps) and any further `apps`; `scheduledEnds` reads
    /// scheduled-end counts, `liveActivities` the Live Activity service's figures (the scheduled-end counts
    /// included) and `channels` its broadcast channel counts (absent when Live Activities are off).
    public init(
        registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
        intake: IntakeServer?,
        apps: [(name: String, client: APNsClient)] = [],
        scheduledEnds: (@Sendable () -> [ScheduledEndCount])? = nil,
        liveActivities: (@Sendable () -> LiveActivityStatistics)? = nil,
        channels: (@Sendable () -> [ChannelCount])? = nil
    ) {
        self.registry = registry
        self.intake = intake
        self.scheduledEnds = scheduledEnds
        self.liveActivities = liveActivities
        self.channels = channels
        var all = intake?.apps ?? []
        for app in apps where !all.contains(where: { $0.client === app.client }) {
            all.append(app)
        }
        self.apps = all.sorted { $0.name < $1.name }
    }

    /// The metrics now, in the Prometheus text format (version 0.0.4).
    public func render() -> [UInt8] {
        let appStats = apps.map {
            (name: $0.name, stats: $0.client.statistics, limit: $0.client.configuration.maxOutstanding,
             byteLimit: $0.client.configuration.maxOutstandingBytes)
        }
        let intakeStats = intake?.statistics
        let liveActivityStats = liveActivities?()
        var endCounts = scheduledEnds?() ?? []
        for (key, count) in liveActivityStats?.scheduledEnds.counts ?? [:] {
            endCounts.append(ScheduledEndCount(app: key.app, outcome: key.outcome.rawValue, count: count))
        }
        let channelCounts = channels?() ?? []
        let broadcasts = apps.map { (name: $0.name, counts: $0.client.broadcastStatistics) }
        var histograms: [UInt8] = []
        histograms.reserveCapacity(16 * 1024)
        var out = exported.withLockedValue { exported -> [UInt8] in
            var sink = Sink(registry: registry, exported: exported)
            if let intakeStats { sink.intake(intakeStats) }
            for app in appStats { sink.app(app.name, app.stats, maxOutstanding: app.limit, maxOutstandingBytes: app.byteLimit) }
            for end in endCounts {
                sink.counter(MetricName.scheduledEnds, [("app", end.app), ("outcome", end.outcome)], end.count)
            }
            if let liveActivityStats { sink.liveActivities(liveActivityStats) }
            for app in broadcasts {
                for (result, count) in app.counts {
                    sink.counter(MetricName.broadcasts, [("app", app.name), ("result", result)], count)
                }
            }
            for channel in channelCounts {
                sink.gauge(MetricName.broadcastChannels, [("app", channel.app), ("environment", channel.environment)], Double(channel.count))
            }
            exported = sink.exported
            var out: [UInt8] = []
            out.reserveCapacity(32 * 1024)
            registry.emit(into: &out)
            return out
        }
        for (family, pick) in [
            (MetricName.apnsLatency, \APNsClientStatistics.apnsLatency),
            (MetricName.queueWait, \APNsClientStatistics.queueWait),
            (MetricName.endToEnd, \APNsClientStatistics.endToEnd),
        ] {
            PrometheusText.histogramHeader(family, into: &histograms)
            for app in appStats {
                PrometheusText.histogram(family.name, labels: [("app", app.name)], app.stats[keyPath: pick], into: &histograms)
            }
        }
        if let added = intakeStats?.addedLatency {
            for (family, snapshot) in [
                (MetricName.addedInbound, added.inbound), (MetricName.addedOutbound, added.outbound),
                (MetricName.added, added.total), (MetricName.batchWait, added.batchWait),
            ] {
                PrometheusText.histogramHeader(family, into: &histograms)
                PrometheusText.histogram(family.name, labels: [], snapshot, into: &histograms)
            }
        }
        if let liveActivityStats {
            Self.liveActivityHistograms(liveActivityStats, into: &histograms)
        }
        out += histograms
        return out
    }

    private static func liveActivityHistograms(_ stats: LiveActivityStatistics, into out: inout [UInt8]) {
        PrometheusText.histogramHeader(MetricName.fanOutTokens, into: &out)
        for (series, snapshot) in stats.fanOutSizes.sorted(by: { ($0.key.app, $0.key.label) < ($1.key.app, $1.key.label) }) {
            PrometheusText.histogram(
                MetricName.fanOutTokens.name, labels: [("app", series.app), ("event", series.label)], snapshot, into: &out)
        }
        PrometheusText.histogramHeader(MetricName.operationLatency, into: &out)
        for (op, snapshot) in stats.operationLatency.sorted(by: { $0.key < $1.key }) {
            PrometheusText.histogram(MetricName.operationLatency.name, labels: [("op", op)], snapshot, into: &out)
        }
    }

    /// Copies one scrape's figures into the registry.
    private struct Sink {
        let registry: PrometheusCollectorRegistry
        var exported: Exported

        mutating func counter(_ family: MetricName.Family, _ labels: [(String, String)], _ value: Int) {
            let key = SeriesKey(name: family.name, labels: labels.map { "\($0.0)=\($0.1)" })
            let entry = exported.counters[key] ?? (registry.makeCounter(descriptor: family.descriptor, labels: labels), 0)
            if value > entry.value {
                entry.counter.increment(by: Int64(value - entry.value))
            }
            exported.counters[key] = (entry.counter, max(value, entry.value))
        }

        mutating func gauge(_ family: MetricName.Family, _ labels: [(String, String)], _ value: Double) {
            let key = SeriesKey(name: family.name, labels: labels.map { "\($0.0)=\($0.1)" })
            let gauge = exported.gauges[key] ?? registry.makeGauge(descriptor: family.descriptor, labels: labels)
            exported.gauges[key] = gauge
            gauge.set(value)
        }

        mutating func intake(_ stats: IntakeStatistics) {
            gauge(MetricName.intakeConnections, [], Double(stats.connections))
            counter(MetricName.intakeConnectionsAccepted, [], stats.connectionsAccepted)
            counter(MetricName.intakeConnectionsRejected, [], stats.connectionsRejected)
            counter(MetricName.intakeRequests, [], stats.requests)
            counter(MetricName.intakeBytes, [], stats.bytes)
            counter(MetricName.intakeNotifications, [], stats.notifications)
            counter(MetricName.intakeOperations, [], stats.operations)
            gauge(MetricName.intakePending, [], Double(stats.pendingRequests))
            for (code, count) in stats.errors {
                counter(MetricName.intakeErrors, [("code", code)], count)
            }
            for (reason, count) in stats.rejections {
                counter(MetricName.localRejections, [("app", ""), ("reason", reason)], count)
            }
        }

        mutating func liveActivities(_ stats: LiveActivityStatistics) {
            for (series, count) in stats.scheduledEndsByState {
                gauge(MetricName.scheduledEndsByState, [("app", series.app), ("state", series.label)], Double(count))
            }
            for (series, count) in stats.tokensRetired {
                counter(MetricName.tokensRetired, [("app", series.app), ("reason", series.label)], count)
            }
            for (app, count) in stats.priorityPushes {
                counter(MetricName.priorityPushes, [("app", app)], count)
            }
            for (app, count) in stats.priorityPushesOverBudget {
                counter(MetricName.overBudget, [("app", app)], count)
            }
            counter(MetricName.pruned, [("kind", "activities")], stats.prunedActivities.activities)
            counter(MetricName.pruned, [("kind", "tokens")], stats.prunedActivities.tokens)
        }

        mutating func app(_ name: String, _ stats: APNsClientStatistics, maxOutstanding: Int, maxOutstandingBytes: Int) {
            let app = [("app", name)]
            counter(MetricName.accepted, app, stats.accepted)
            counter(MetricName.sent, app, stats.answeredByAPNs)
            counter(MetricName.succeeded, app, stats.succeeded)
            for (outcome, count) in stats.outcomes where outcome.status != 200 {
                switch outcome.source {
                case .local:
                    counter(MetricName.localRejections, app + [("reason", outcome.reason ?? "")], count)
                case .apns, .gateway:
                    let labels = app + [
                        ("source", outcome.source.rawValue), ("status", outcome.status.map { String($0) } ?? ""),
                        ("reason", outcome.reason ?? ""),
                    ]
                    counter(MetricName.failed, labels, count)
                }
            }
            counter(MetricName.retries, app, stats.retries)
            counter(MetricName.attemptFailures, app, stats.attemptFailures)
            counter(MetricName.tokenRefreshes, app, stats.tokenRefreshes)
            gauge(MetricName.outstanding, app, Double(stats.outstanding))
            gauge(MetricName.maxOutstanding, app, Double(maxOutstanding))
            gauge(MetricName.outstandingBytes, app, Double(stats.outstandingBytes))
            gauge(MetricName.maxOutstandingBytes, app, Double(maxOutstandingBytes))

            let pool = stats.pool
            counter(MetricName.connectionsOpened, app, pool.connectionsOpened)
            for (reason, count) in pool.connectionsClosed {
                counter(MetricName.connectionsClosed, app + [("reason", reason)], count)
            }
            for (reason, count) in pool.connectionsFailed {
                counter(MetricName.connectionsFailed, app + [("reason", reason)], count)
            }
            for (key, count) in pool.goAways {
                counter(MetricName.goAways, app + [("error_code", key.errorCode), ("reason", key.reason)], count)
            }
            counter(MetricName.backoffs, app, pool.reconnectBackoffs)
            for (state, count) in [("connecting", pool.connecting), ("ready", pool.ready), ("backing_off", pool.backingOff), ("draining", pool.draining)] {
                gauge(MetricName.connections, app + [("state", state)], Double(count))
            }
            gauge(MetricName.inFlight, app, Double(pool.inFlight))
            gauge(MetricName.queueDepth, app, Double(pool.queued))
            for (slot, limit) in pool.streamLimitsBySlot.enumerated() {
                gauge(MetricName.streamLimit, app + [("connection", String(slot))], Double(limit))
            }
            gauge(MetricName.streamCapacity, app, Double(pool.streamLimitsBySlot.reduce(0, +)))
            for (slot, window) in pool.serverWindowsBySlot.enumerated() {
                gauge(MetricName.serverWindow, app + [("connection", String(slot))], Double(window))
            }
        }
    }
}
