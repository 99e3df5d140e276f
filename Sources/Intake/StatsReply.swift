import APNs
import HTTP2Engine
import JSON
import NIOCore

/// The objects of the `stats` reply (see docs/protocol.md and docs/operations.md).
extension JSONWriter {
    mutating func intake(_ stats: IntakeStatistics) {
        beginObject("intake")
        int("connections", stats.connections)
        int("connectionsAccepted", stats.connectionsAccepted)
        int("connectionsRejected", stats.connectionsRejected)
        int("requests", stats.requests)
        int("bytes", stats.bytes)
        int("notifications", stats.notifications)
        int("operations", stats.operations)
        int("pendingRequests", stats.pendingRequests)
        counts("errors", stats.errors)
        counts("rejections", stats.rejections)
        beginObject("addedLatency")
        histogram("inbound", stats.addedLatency.inbound)
        histogram("outbound", stats.addedLatency.outbound)
        histogram("total", stats.addedLatency.total)
        histogram("batchWait", stats.addedLatency.batchWait)
        endObject()
        endObject()
    }

    mutating func app(_ name: String, _ stats: APNsClientStatistics) {
        beginObject(dynamic: name)
        int("accepted", stats.accepted)
        int("sent", stats.answeredByAPNs)
        int("succeeded", stats.succeeded)
        int("rejectedLocally", stats.rejectedLocally)
        int("failedInGateway", stats.failedInGateway)
        int("retries", stats.retries)
        int("attemptFailures", stats.attemptFailures)
        int("outstanding", stats.outstanding)
        int("outstandingBytes", stats.outstandingBytes)
        int("inFlight", stats.pool.inFlight)
        int("queued", stats.pool.queued)
        int("tokenRefreshes", stats.tokenRefreshes)
        counts("byOutcome", stats.byOutcome)
        histogram("apnsLatency", stats.apnsLatency)
        histogram("queueWait", stats.queueWait)
        histogram("endToEnd", stats.endToEnd)
        beginObject("connections")
        int("connecting", stats.pool.connecting)
        int("ready", stats.pool.ready)
        int("backingOff", stats.pool.backingOff)
        int("draining", stats.pool.draining)
        int("opened", stats.pool.connectionsOpened)
        counts("closed", stats.pool.connectionsClosed)
        counts("failed", stats.pool.connectionsFailed)
        var goAways: [String: Int] = [:]
        for (key, count) in stats.pool.goAways {
            goAways[key.reason.isEmpty ? key.errorCode : "\(key.errorCode) \(key.reason)", default: 0] += count
        }
        counts("goAways", goAways)
        int("backoffs", stats.pool.reconnectBackoffs)
        ints("streamLimits", stats.pool.streamLimits)
        ints("streamLimitsBySlot", stats.pool.streamLimitsBySlot)
        ints("serverWindowsBySlot", stats.pool.serverWindowsBySlot)
        endObject()
        endObject()
    }

    /// `{"key": count, …}`, keys sorted.
    mutating func counts(_ name: StaticString, _ table: [String: Int]) {
        beginObject(name)
        for (key, count) in table.sorted(by: { $0.key < $1.key }) {
            int(dynamic: key, count)
        }
        endObject()
    }

    /// `{"count": n, "sumSeconds": s, "buckets": {"0.001": n, …, "+Inf": n}}`, buckets cumulative as in
    /// Prometheus.
    mutating func histogram(_ name: StaticString, _ snapshot: HistogramSnapshot) {
        beginObject(name)
        int("count", snapshot.count)
        double("sumSeconds", snapshot.sumSeconds)
        beginObject("buckets")
        let cumulative = snapshot.cumulativeCounts
        for (index, bound) in snapshot.bounds.enumerated() {
            int(dynamic: HistogramSnapshot.label(bound), cumulative[index])
        }
        int("+Inf", cumulative[cumulative.count - 1])
        endObject()
        endObject()
    }
}
