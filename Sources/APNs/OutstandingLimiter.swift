import NIOConcurrencyHelpers

/// Counts notifications accepted and not yet answered, against one bound. Callers that find it full either
/// hear "no" (``tryAcquire()``) or wait (``acquire()``); each release wakes the oldest waiter.
final class OutstandingLimiter: Sendable {
    private struct State {
        var outstanding = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
        var waiterHead = 0
        var callbacks: [@Sendable () -> Void] = []
        var idleWaiters: [CheckedContinuation<Void, Never>] = []
    }

    let limit: Int
    /// ``whenAvailable(_:)`` callbacks wait until the count falls to this, not just below the limit: a caller
    /// then has room for a run of notifications instead of one per wake-up (each a thread hop).
    let resumeBelow: Int
    private let state = NIOLockedValueBox(State())

    init(limit: Int) {
        precondition(limit > 0)
        self.limit = limit
        self.resumeBelow = limit - max(1, min(limit / 8, 1024))
    }

    var outstanding: Int { state.withLockedValue { $0.outstanding } }

    /// Takes a slot if one is free.
    func tryAcquire() -> Bool {
        state.withLockedValue { state in
            guard state.outstanding < limit, state.waiterHead == state.waiters.count else { return false }
            state.outstanding += 1
            return true
        }
    }

    /// Takes a slot, waiting for one if needed (first come, first served).
    func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = state.withLockedValue { state -> Bool in
                if state.outstanding < limit, state.waiterHead == state.waiters.count {
                    state.outstanding += 1
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if granted { continuation.resume() }
        }
    }

    /// Calls `callback` once: at once if a slot is free, otherwise when the count has fallen to
    /// ``resumeBelow`` (an eighth of the limit, at most 1,024, below it).
    func whenAvailable(_ callback: @escaping @Sendable () -> Void) {
        let now = state.withLockedValue { state -> Bool in
            if state.outstanding < limit { return true }
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

    /// Gives a slot back: to the oldest waiter if there is one.
    func release() {
        let (waiter, callbacks, idle) = state.withLockedValue { state -> (CheckedContinuation<Void, Never>?, [@Sendable () -> Void], [CheckedContinuation<Void, Never>]) in
            if state.waiterHead < state.waiters.count {
                let waiter = state.waiters[state.waiterHead]
                state.waiterHead += 1
                if state.waiterHead == state.waiters.count {
                    state.waiters.removeAll(keepingCapacity: true)
                    state.waiterHead = 0
                }
                return (waiter, [], [])  // the slot passes straight to the waiter
            }
            state.outstanding -= 1
            var callbacks: [@Sendable () -> Void] = []
            if state.outstanding <= resumeBelow && !state.callbacks.isEmpty {
                swap(&callbacks, &state.callbacks)
            }
            var idle: [CheckedContinuation<Void, Never>] = []
            if state.outstanding == 0 {
                idle = state.idleWaiters
                state.idleWaiters.removeAll()
            }
            return (nil, callbacks, idle)
        }
        waiter?.resume()
        for callback in callbacks { callback() }
        for continuation in idle { continuation.resume() }
    }
}
