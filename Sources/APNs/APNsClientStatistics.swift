import HTTP2Engine
import NIOConcurrencyHelpers
import Synchronization

/// The client's counters and its pool's state at one moment: the figures behind the intake's `stats` op and
/// the Prometheus metrics alike.
public struct APNsClientStatistics: Sendable, Hashable {
    /// Notifications handed to the client.
    public var accepted: Int
    /// Final results so far, by source.
    public var answeredByAPNs: Int
    public var rejectedLocally: Int
    public var failedInGateway: Int
    /// APNs answers with status 200.
    public var succeeded: Int
    /// Final results by "status reason" (e.g. "200", "410 Unregistered", "gateway DeadlineExceeded").
    public var byOutcome: [String: Int] {
        var table: [String: Int] = [:]
        for (outcome, count) in outcomes { table[outcome.description, default: 0] += count }
        return table
    }
    /// Final results by source, status and reason.
    public var outcomes: [APNsOutcome: Int]
    /// Attempts sent again.
    public var retries: Int
    /// Attempts that ended without an APNs answer.
    public var attemptFailures: Int
    /// Accepted and not yet answered (queued plus in flight).
    public var outstanding: Int
    /// The bytes they count against ``APNsClientConfiguration/maxOutstandingBytes`` (payloads plus the
    /// per-notification estimate).
    public var outstandingBytes: Int
    public var tokenRefreshes: Int
    /// From a request's write to its response, per attempt APNs answered.
    public var apnsLatency: HistogramSnapshot
    /// From entering the pool's queue to being written, per attempt APNs answered.
    public var queueWait: HistogramSnapshot
    /// From acceptance to the final result, per notification (zero for local rejections).
    public var endToEnd: HistogramSnapshot
    public var pool: HTTP2PoolStatistics
}

/// Lock-free counters on the hot path: single atomics, a fixed table of outcomes and sharded histograms. Only
/// outcomes without a fixed slot (undocumented reasons) take a lock.
final class APNsClientCounters: Sendable {
    let accepted = Atomic<Int>(0)
    let retries = Atomic<Int>(0)
    let attemptFailures = Atomic<Int>(0)
    private let answeredByAPNs = Atomic<Int>(0)
    private let rejectedLocally = Atomic<Int>(0)
    private let failedInGateway = Atomic<Int>(0)
    private let outcomes = APNsOutcomeCounters()
    let apnsLatency = LatencyHistogram()
    let queueWait = LatencyHistogram()
    let endToEnd = LatencyHistogram()

    @inline(__always)
    func record(_ result: APNsResult, slot: APNsOutcomeCounters.Slot) {
        switch result.source {
        case .apns: answeredByAPNs.add(1, ordering: .relaxed)
        case .local: rejectedLocally.add(1, ordering: .relaxed)
        case .gateway: failedInGateway.add(1, ordering: .relaxed)
        }
        outcomes.record(result, slot: slot)
    }

    func snapshot(pool: HTTP2PoolStatistics, outstanding: Int, outstandingBytes: Int, tokenRefreshes: Int) -> APNsClientStatistics {
        APNsClientStatistics(
            accepted: accepted.load(ordering: .relaxed),
            answeredByAPNs: answeredByAPNs.load(ordering: .relaxed),
            rejectedLocally: rejectedLocally.load(ordering: .relaxed),
            failedInGateway: failedInGateway.load(ordering: .relaxed),
            succeeded: outcomes.succeeded,
            outcomes: outcomes.snapshot(),
            retries: retries.load(ordering: .relaxed),
            attemptFailures: attemptFailures.load(ordering: .relaxed),
            outstanding: outstanding,
            outstandingBytes: outstandingBytes,
            tokenRefreshes: tokenRefreshes,
            apnsLatency: apnsLatency.snapshot(),
            queueWait: queueWait.snapshot(),
            endToEnd: endToEnd.snapshot(),
            pool: pool
        )
    }
}
