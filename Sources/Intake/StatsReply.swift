import APNs
import HTTP2Engine
import NIOCore

/// The objects of the `stats` reply (see docs/protocol.md and docs/operations.md).
extension JSONObjectWriter {
    mutating func intake(_ stats: IntakeStatistics) {
        begin("intake")
        field("connections", stats.connections)
        field("connectionsAccepted", stats.connectionsAccepted)
        field("connectionsRejected", stats.connectionsRejected)
        field("requests", stats.requests)
        field("bytes", stats.bytes)
        field("notifications", stats.notifications)
        field("operations", stats.operations)
        field("pendingRequests", stats.pendingRequests)
        counts("errors", stats.errors)
        counts("rejections", stats.rejections)
        end()
    }

    mutating func app(_ name: String, _ stats: APNsClientStatistics) {
        begin(name)
        field("accepted", stats.accepted)
        field("sent", stats.answeredByAPNs)
        field("succeeded", stats.succeeded)
        field("rejectedLocally", stats.rejectedLocally)
        field("failedInGateway", stats.failedInGateway)
        field("retries", stats.retries)
        field("attemptFailures", stats.attemptFailures)
        field("outstanding", stats.outstanding)
        field("inFlight", stats.pool.inFlight)
        field("queued", stats.pool.queued)
        field("tokenRefreshes", stats.tokenRefreshes)
        counts("byOutcome", stats.byOutcome)
        histogram("apnsLatency", stats.apnsLatency)
        histogram("queueWait", stats.queueWait)
        histogram("endToEnd", stats.endToEnd)
        begin("connections")
        field("connecting", stats.pool.connecting)
        field("ready", stats.pool.ready)
        field("backingOff", stats.pool.backingOff)
        field("draining", stats.pool.draining)
        field("opened", stats.pool.connectionsOpened)
        counts("closed", stats.pool.connectionsClosed)
        counts("failed", stats.pool.connectionsFailed)
        var goAways: [String: Int] = [:]
        for (key, count) in stats.pool.goAways {
            goAways[key.reason.isEmpty ? key.errorCode : "\(key.errorCode) \(key.reason)", default: 0] += count
        }
        counts("goAways", goAways)
        field("backoffs", stats.pool.reconnectBackoffs)
        field("streamLimits", stats.pool.streamLimits)
        field("streamLimitsBySlot", stats.pool.streamLimitsBySlot)
        end()
        end()
    }

    /// `{"key": count, …}`, keys sorted.
    mutating func counts(_ name: String, _ table: [String: Int]) {
        begin(name)
        for (key, count) in table.sorted(by: { $0.key < $1.key }) {
            field(key, count)
        }
        end()
    }

    /// `{"count": n, "sumSeconds": s, "buckets": {"0.001": n, …, "+Inf": n}}`, buckets cumulative as in
    /// Prometheus.
    mutating func histogram(_ name: String, _ snapshot: HistogramSnapshot) {
        begin(name)
        field("count", snapshot.count)
        field("sumSeconds", snapshot.sumSeconds)
        begin("buckets")
        let cumulative = snapshot.cumulativeCounts
        for (index, bound) in snapshot.bounds.enumerated() {
            field(HistogramSnapshot.label(bound), cumulative[index])
        }
        field("+Inf", cumulative[cumulative.count - 1])
        end()
        end()
    }
}
