import APNs
import LiveActivity
import NIOConcurrencyHelpers

/// The service's running figures behind ``LiveActivityStatistics``.
///
/// Op latencies go into lock-free ``LatencyHistogram``s (one per op, made up front); the rest changes once per
/// push request or scheduler pass, under one lock, which is nothing next to the pushes it accounts for.
final class LiveActivityMetrics: Sendable {
    /// Upper bounds of the fan-out size buckets (tokens).
    static let fanOutBounds: [Double] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 50_000, 100_000]

    private struct State {
        var budget: PriorityBudget
        /// Per series: observations per bucket (the last one above every bound) and the sum of sizes.
        var fanOut: [LiveActivityStatistics.Series: (counts: [Int], sum: Int)] = [:]
        var retired: [LiveActivityStatistics.Series: Int] = [:]
        var priorityPushes: [String: Int] = [:]
        var overBudget: [String: Int] = [:]
        var byState: [LiveActivityStatistics.Series: Int] = [:]
        var pruned = PrunedActivities(activities: 0, tokens: 0)
    }

    let operationLatency: [String: LatencyHistogram]
    private let state: NIOLockedValueBox<State>

    init(operations: [String], priorityBudgetPerHour: Int) {
        var latency: [String: LatencyHistogram] = [:]
        for name in operations { latency[name] = LatencyHistogram(shards: 2) }
        operationLatency = latency
        state = NIOLockedValueBox(State(budget: PriorityBudget(budget: priorityBudgetPerHour)))
    }

    /// One push request sent to `size` tokens of `app`.
    func observeFanOut(app: String, event: String, size: Int) {
        var bucket = 0
        while bucket < Self.fanOutBounds.count && Double(size) > Self.fanOutBounds[bucket] { bucket += 1 }
        state.withLockedValue { state in
            let series = LiveActivityStatistics.Series(app: app, label: event)
            var entry = state.fanOut[series] ?? (counts: [Int](repeating: 0, count: Self.fanOutBounds.count + 1), sum: 0)
            entry.counts[bucket] += 1
            entry.sum += size
            state.fanOut[series] = entry
        }
    }

    func retired(app: String, reason: String, count: Int) {
        state.withLockedValue { $0.retired[LiveActivityStatistics.Series(app: app, label: reason), default: 0] += count }
    }

    /// Counts a priority-10 push to an activity of `app` against its hourly budget.
    func priorityPush(app: String, activityID: String, now: Int64) -> PriorityBudget.Verdict {
        state.withLockedValue { state in
            state.priorityPushes[app, default: 0] += 1
            let verdict = state.budget.record(activityID: activityID, now: now)
            if case .over = verdict { state.overBudget[app, default: 0] += 1 }
            return verdict
        }
    }

    /// The activities ended: their budget windows are no longer needed.
    func ended(_ activityIDs: some Sequence<String>) {
        state.withLockedValue { state in
            for activityID in activityIDs { state.budget.forget(activityID: activityID) }
        }
    }

    /// The registry's counts; `apps` are the configured apps' names, given every state even when empty, as is
    /// every app counted before.
    func setScheduledEndCounts(_ counts: [(app: String, state: ScheduledEnd.State, count: Int)], apps: [String]) {
        state.withLockedValue { state in
            var table: [LiveActivityStatistics.Series: Int] = [:]
            let known = Set(apps + state.byState.keys.map { $0.app } + counts.map { $0.app })
            for app in known {
                for end in ScheduledEnd.State.allCases { table[.init(app: app, label: end.rawValue)] = 0 }
            }
            for count in counts { table[.init(app: count.app, label: count.state.rawValue), default: 0] += count.count }
            state.byState = table
        }
    }

    func pruned(_ pruned: PrunedActivities) {
        state.withLockedValue {
            $0.pruned.activities += pruned.activities
            $0.pruned.tokens += pruned.tokens
        }
    }

    func snapshot(scheduledEnds: ScheduledEndStatistics) -> LiveActivityStatistics {
        var statistics = LiveActivityStatistics()
        statistics.scheduledEnds = scheduledEnds
        statistics.operationLatency = operationLatency.mapValues { $0.snapshot() }
        state.withLockedValue { state in
            statistics.scheduledEndsByState = state.byState
            statistics.fanOutSizes = state.fanOut.mapValues {
                HistogramSnapshot(bounds: Self.fanOutBounds, counts: $0.counts, sumSeconds: Double($0.sum))
            }
            statistics.tokensRetired = state.retired
            statistics.priorityPushes = state.priorityPushes
            statistics.priorityPushesOverBudget = state.overBudget
            statistics.prunedActivities = state.pruned
        }
        return statistics
    }
}
