import HTTP2Engine
import NIOConcurrencyHelpers
import Synchronization

/// The client's counters and its pool's state at one moment.
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
    public var byOutcome: [String: Int]
    /// Attempts sent again.
    public var retries: Int
    /// Attempts that ended without an APNs answer.
    public var attemptFailures: Int
    /// Accepted and not yet answered (queued plus in flight).
    public var outstanding: Int
    public var tokenRefreshes: Int
    public var pool: HTTP2PoolStatistics
}

/// Lock-free counters on the hot path; the per-outcome table takes a lock only for non-200 results.
final class APNsClientCounters: Sendable {
    let accepted = Atomic<Int>(0)
    let retries = Atomic<Int>(0)
    let attemptFailures = Atomic<Int>(0)
    private let succeeded = Atomic<Int>(0)
    private let answeredByAPNs = Atomic<Int>(0)
    private let rejectedLocally = Atomic<Int>(0)
    private let failedInGateway = Atomic<Int>(0)
    private let otherOutcomes = NIOLockedValueBox<[String: Int]>([:])

    func record(_ result: APNsResult) {
        switch result.source {
        case .apns:
            answeredByAPNs.add(1, ordering: .relaxed)
            if result.status == 200 {
                succeeded.add(1, ordering: .relaxed)
                return
            }
        case .local:
            rejectedLocally.add(1, ordering: .relaxed)
        case .gateway:
            failedInGateway.add(1, ordering: .relaxed)
        }
        let key: String
        switch result.source {
        case .apns: key = "\(result.status ?? 0) \(result.reason ?? "")"
        case .local: key = "local \(result.reason ?? "")"
        case .gateway: key = "gateway \(result.reason ?? "")"
        }
        otherOutcomes.withLockedValue { $0[key, default: 0] += 1 }
    }

    func snapshot(pool: HTTP2PoolStatistics, outstanding: Int, tokenRefreshes: Int) -> APNsClientStatistics {
        var byOutcome = otherOutcomes.withLockedValue { $0 }
        let ok = succeeded.load(ordering: .relaxed)
        if ok > 0 { byOutcome["200"] = ok }
        return APNsClientStatistics(
            accepted: accepted.load(ordering: .relaxed),
            answeredByAPNs: answeredByAPNs.load(ordering: .relaxed),
            rejectedLocally: rejectedLocally.load(ordering: .relaxed),
            failedInGateway: failedInGateway.load(ordering: .relaxed),
            succeeded: ok,
            byOutcome: byOutcome,
            retries: retries.load(ordering: .relaxed),
            attemptFailures: attemptFailures.load(ordering: .relaxed),
            outstanding: outstanding,
            tokenRefreshes: tokenRefreshes,
            pool: pool
        )
    }
}
