import NIOConcurrencyHelpers

/// Counts notifications accepted and not yet answered, and the bytes they hold, against two bounds: a count
/// and a byte total. Callers that find it full either hear "no" (``tryAcquire(bytes:)``) or wait
/// (``acquire(bytes:)``); each release wakes the oldest waiters that now fit.
///
/// An item's bytes are its caller's estimate (payload plus a per-item overhead); ``release(bytes:)`` must give
/// back what was taken. An item larger than the whole byte bound is still admitted when nothing else holds
/// bytes, so that no size can wait forever.
final class OutstandingLimiter: Sendable {
    private struct Waiter {
        var bytes: Int
        var continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var outstanding = 0
        var bytes = 0
        var waiters: [Waiter] = []
        var waiterHead = 0
        var callbacks: [@Sendable () -> Void] = []
        var idleWaiters: [CheckedContinuation<Void, Never>] = []

        var hasWaiters: Bool { waiterHead < waiters.count }

        /// Whether an item of `size` bytes fits now (ignoring waiters).
        func fits(_ size: Int, limit: Int, byteLimit: Int) -> Bool {
            outstanding < limit && (bytes == 0 || bytes + size <= byteLimit)
        }
    }

    let limit: Int
    let byteLimit: Int
    /// ``whenAvailable(_:)`` callbacks wait until the count falls to this, not just below the limit: a caller
    /// then has room for a run of notifications instead of one per wake-up (each a thread hop).
    let resumeBelow: Int
    /// The same for bytes: callbacks wait until the bytes held fall to this.
    let resumeBelowBytes: Int
    private let state = NIOLockedValueBox(State())

    init(limit: Int, byteLimit: Int = .max) {
        precondition(limit > 0 && byteLimit > 0)
        self.limit = limit
        self.byteLimit = byteLimit
        self.resumeBelow = limit - max(1, min(limit / 8, 1024))
        self.resumeBelowBytes = byteLimit - max(1, byteLimit / 8)
    }

    var outstanding: Int { state.withLockedValue { $0.outstanding } }

    /// The bytes held by the items outstanding.
    var outstandingBytes: Int { state.withLockedValue { $0.bytes } }

    /// Callers of ``acquire(bytes:)`` still waiting.
    var waiterCount: Int { state.withLockedValue { $0.waiters.count - $0.waiterHead } }

    /// Takes a slot for an item of `bytes` bytes if the bounds allow it and nobody waits.
    func tryAcquire(bytes size: Int = 0) -> Bool {
        state.withLockedValue { state in
            guard !state.hasWaiters, state.fits(size, limit: limit, byteLimit: byteLimit) else { return false }
            state.outstanding += 1
            state.bytes += size
            return true
        }
    }

    /// Takes a slot for an item of `bytes` bytes, waiting for room if needed (first come, first served).
    func acquire(bytes size: Int = 0) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = state.withLockedValue { state -> Bool in
                if !state.hasWaiters, state.fits(size, limit: limit, byteLimit: byteLimit) {
                    state.outstanding += 1
                    state.bytes += size
                    return true
                }
                state.waiters.append(Waiter(bytes: size, continuation: continuation))
                return false
            }
            if granted { continuation.resume() }
        }
    }

    /// Calls `callback` once: at once if a slot is free and the bytes are at most ``resumeBelowBytes``,
    /// otherwise when the count has fallen to ``resumeBelow`` (an eighth of the limit, at most 1,024, below it)
    /// and the bytes to ``resumeBelowBytes`` (an eighth below the byte bound), or nothing is outstanding. An
    /// item refused for its bytes is therefore not retried until an eighth of the byte bound is free: items
    /// smaller than that (every APNs payload, with the byte bound's minimum) fit then, with no busy retry.
    func whenAvailable(_ callback: @escaping @Sendable () -> Void) {
        let now = state.withLockedValue { state -> Bool in
            if state.outstanding < limit && state.bytes <= resumeBelowBytes { return true }
            state.callbacks.append(callback)
            return false
        }
        if now { callback() }
    }

    /// Returns once nothing is outstanding.
    func waitUntilIdle() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let idle = state.withLockedValue { state -> Bool in
                if state.outstanding == 0 { return true }
                state.idleWaiters.append(continuation)
                return false
            }
            if idle { continuation.resume() }
        }
    }

    /// Resumes every ``waitUntilIdle()`` caller now, idle or not (its time is up).
    func stopWaitingForIdle() {
        let waiters = state.withLockedValue { state in
            defer { state.idleWaiters.removeAll() }
            return state.idleWaiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Gives back the slot of an item of `bytes` bytes (what its acquire took), then admits the oldest waiters
    /// that fit.
    func release(bytes size: Int = 0) {
        var woken: Waiter?
        var more: [Waiter] = []
        let (callbacks, idle) = state.withLockedValue { state -> ([@Sendable () -> Void], [CheckedContinuation<Void, Never>]) in
            state.outstanding -= 1
            state.bytes -= size
            // Waiters in order, as long as the next one fits (an oversized one waits for the bytes to drain).
            while state.hasWaiters, state.fits(state.waiters[state.waiterHead].bytes, limit: limit, byteLimit: byteLimit) {
                let waiter = state.waiters[state.waiterHead]
                state.waiterHead += 1
                state.outstanding += 1
                state.bytes += waiter.bytes
                if woken == nil { woken = waiter } else { more.append(waiter) }
            }
            if state.waiterHead == state.waiters.count && state.waiterHead > 0 {
                state.waiters.removeAll(keepingCapacity: true)
                state.waiterHead = 0
            }
            var callbacks: [@Sendable () -> Void] = []
            if !state.callbacks.isEmpty, !state.hasWaiters,
                state.outstanding == 0 || (state.outstanding <= resumeBelow && state.bytes <= resumeBelowBytes)
            {
                swap(&callbacks, &state.callbacks)
            }
            var idle: [CheckedContinuation<Void, Never>] = []
            if state.outstanding == 0 {
                idle = state.idleWaiters
                state.idleWaiters.removeAll()
            }
            return (callbacks, idle)
        }
        woken?.continuation.resume()
        for waiter in more { waiter.continuation.resume() }
        for callback in callbacks { callback() }
        for continuation in idle { continuation.resume() }
    }
}
