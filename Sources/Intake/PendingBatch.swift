import APNs
import NIOConcurrencyHelpers
import NIOCore

/// The results of one `send` request, gathered by index from whatever thread each arrives on.
///
/// When the last result is in, `onComplete` runs once (it hops to the connection's event loop, which
/// writes the reply). The lock is held only to store one result.
///
/// Beside each result the batch keeps the client's ``APNsResultTimes``, and it knows when the read that
/// completed its request line happened (`readAt`): once the reply is written, ``recordAddedLatency(writtenAt:into:)``
/// turns them into the intake's added-latency figures.
final class PendingBatch: APNsResultReceiver {
    private struct Entry {
        var result: APNsResult?
        /// Uptime nanoseconds, 0 when not known (see ``APNsResultTimes``).
        var firstSentAt: Int64 = 0
        var knownAt: Int64 = 0
    }

    private struct State {
        var entries: [Entry]
        var remaining: Int
    }

    /// The request's raw `id` bytes, echoed verbatim in the reply.
    let id: ByteBuffer
    let count: Int
    /// When the read that completed the request line happened (uptime 0: not known).
    let readAt: NIODeadline
    private let state: NIOLockedValueBox<State>
    private let onComplete: @Sendable (PendingBatch) -> Void

    init(id: ByteBuffer, count: Int, readAt: NIODeadline = .uptimeNanoseconds(0), onComplete: @escaping @Sendable (PendingBatch) -> Void) {
        self.id = id
        self.count = count
        self.readAt = readAt
        self.state = NIOLockedValueBox(State(entries: Array(repeating: Entry(), count: count), remaining: count))
        self.onComplete = onComplete
    }

    /// Stores the result of item `index`; the first result for an index wins.
    func set(_ index: Int, _ result: APNsResult, times: APNsResultTimes = .unknown) {
        let done = state.withLockedValue { state -> Bool in
            guard state.entries[index].result == nil else { return false }
            state.entries[index] = Entry(
                result: result, firstSentAt: Int64(times.firstSentAt.uptimeNanoseconds),
                knownAt: Int64(times.knownAt.uptimeNanoseconds))
            state.remaining -= 1
            return state.remaining == 0
        }
        if done { onComplete(self) }
    }

    func receive(_ result: APNsResult, times: APNsResultTimes, index: Int) {
        set(index, result, times: times)
    }

    /// Passes each result to `body` in input order, where it lies (no array of copies); call after completion.
    func forEachResult(_ body: (APNsResult) -> Void) {
        state.withLockedValue { state in
            for index in state.entries.indices {
                if let result = state.entries[index].result {
                    body(result)
                } else {
                    body(APNsResult(source: .gateway, reason: "Internal", detail: "no result"))
                }
            }
        }
    }

    /// Records the time the intake added to each item whose times the client reported, once the reply was
    /// written at `writtenAt`; call after completion. Inbound: from `readAt` to the item's first write.
    /// Outbound: from the last result becoming known (the answer that completed the batch) to the reply
    /// written, the same for every item of the batch. Batch wait: from the item's own result to that last one.
    func recordAddedLatency(writtenAt: NIODeadline, into figures: IntakeAddedLatency) {
        let written = Int64(writtenAt.uptimeNanoseconds)
        let read = Int64(readAt.uptimeNanoseconds)
        state.withLockedValue { state in
            var last: Int64 = 0
            var timed = 0
            for entry in state.entries where entry.knownAt > 0 {
                last = max(last, entry.knownAt)
                timed += 1
            }
            guard timed > 0 else { return }
            let outbound = written - last
            figures.outbound.record(nanoseconds: outbound, times: timed)
            // Counted here first, then added to the shared histograms once per request.
            var batchWait = figures.batchWait.makeTally()
            var inbound = figures.inbound.makeTally()
            var total = figures.total.makeTally()
            for entry in state.entries where entry.knownAt > 0 {
                figures.batchWait.record(nanoseconds: last - entry.knownAt, in: &batchWait)
                if read > 0 && entry.firstSentAt > 0 {
                    let inboundTime = entry.firstSentAt - read
                    figures.inbound.record(nanoseconds: inboundTime, in: &inbound)
                    figures.total.record(nanoseconds: max(inboundTime, 0) + max(outbound, 0), in: &total)
                }
            }
            figures.batchWait.add(batchWait)
            figures.inbound.add(inbound)
            figures.total.add(total)
        }
    }
}

/// The time the gateway adds to each notification on its own, outside APNs and outside batching: histograms
/// kept by the intake over all its connections (see docs/operations.md, "Added latency").
final class IntakeAddedLatency: Sendable {
    /// From the read that completed the request line to the notification's first write to APNs.
    let inbound = LatencyHistogram(bounds: LatencyHistogram.fineBounds)
    /// From the answer that completed the notification's batch to the batch's reply written.
    let outbound = LatencyHistogram(bounds: LatencyHistogram.fineBounds)
    /// Inbound plus outbound, per notification with both.
    let total = LatencyHistogram(bounds: LatencyHistogram.fineBounds)
    /// From the notification's own result to the last result of its batch: how long its reply waits for its
    /// siblings (batching, not overhead).
    let batchWait = LatencyHistogram(bounds: LatencyHistogram.fineBounds)

    var statistics: IntakeAddedLatencyStatistics {
        IntakeAddedLatencyStatistics(
            inbound: inbound.snapshot(), outbound: outbound.snapshot(), total: total.snapshot(), batchWait: batchWait.snapshot())
    }
}
