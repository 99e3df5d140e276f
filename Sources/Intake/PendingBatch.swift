import APNs
import NIOConcurrencyHelpers
import NIOCore

/// The results of one `send` request, gathered by index from whatever thread each arrives on.
///
/// When the last result is in, `onComplete` runs once (it hops to the connection's event loop, which
/// writes the reply). The lock is held only to store one result.
final class PendingBatch: Sendable {
    private struct State {
        var results: [APNsResult?]
        var remaining: Int
    }

    /// The request's raw `id` bytes, echoed verbatim in the reply.
    let id: ByteBuffer
    let count: Int
    private let state: NIOLockedValueBox<State>
    private let onComplete: @Sendable (PendingBatch) -> Void

    init(id: ByteBuffer, count: Int, onComplete: @escaping @Sendable (PendingBatch) -> Void) {
        self.id = id
        self.count = count
        self.state = NIOLockedValueBox(State(results: Array(repeating: nil, count: count), remaining: count))
        self.onComplete = onComplete
    }

    /// Stores the result of item `index`; the first result for an index wins.
    func set(_ index: Int, _ result: APNsResult) {
        let done = state.withLockedValue { state -> Bool in
            guard state.results[index] == nil else { return false }
            state.results[index] = result
            state.remaining -= 1
            return state.remaining == 0
        }
        if done { onComplete(self) }
    }

    /// The results in input order; call after completion.
    func results() -> [APNsResult] {
        state.withLockedValue { state in
            state.results.map { $0 ?? APNsResult(source: .gateway, reason: "Internal", detail: "no result") }
        }
    }
}
