import Logging
import NIOConcurrencyHelpers
import NIOCore

/// The loop that sends scheduled ends: one pass every interval, or at once when woken (an end was scheduled
/// for now). A pass that got no answer from APNs makes the next wait longer (doubling up to a minute).
///
/// Threading: the loop is one task; ``wake()`` and ``stop()`` may be called from anywhere. The wait between
/// passes is a timer on an event loop resuming a continuation, so stopping does not wait for it.
final class EndScheduler: Sendable {
    private struct State {
        var task: Task<Void, Never>?
        var stopped = false
        var wakeRequested = false
        var sleeper: CheckedContinuation<Void, Never>?
        /// Tells a stale timer (its sleep already ended) from the current one.
        var generation = 0
    }

    private let state = NIOLockedValueBox(State())
    private let interval: TimeAmount
    private let eventLoop: any EventLoop
    private let logger: Logger
    static let maxBackoff: TimeAmount = .seconds(60)

    init(interval: TimeAmount, eventLoop: any EventLoop, logger: Logger) {
        self.interval = interval
        self.eventLoop = eventLoop
        self.logger = logger
    }

    /// Starts the loop; `pass` returns true when the next pass should wait longer. Does nothing if already
    /// started or stopped.
    func start(_ pass: @escaping @Sendable () async -> Bool) {
        state.withLockedValue { state in
            guard state.task == nil, !state.stopped else { return }
            state.task = Task { await self.run(pass) }
        }
        logger.debug("scheduled-end loop started", metadata: ["intervalMs": "\(interval.nanoseconds / 1_000_000)"])
    }

    /// Runs the next pass now instead of at the end of the current wait.
    func wake() {
        let sleeper = state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
            guard let sleeper = state.sleeper else {
                state.wakeRequested = true
                return nil
            }
            state.sleeper = nil
            return sleeper
        }
        sleeper?.resume()
    }

    /// Stops the loop and returns once a pass in progress has finished.
    func stop() async {
        let (sleeper, task) = state.withLockedValue { state in
            state.stopped = true
            defer { state.sleeper = nil }
            return (state.sleeper, state.task)
        }
        sleeper?.resume()
        await task?.value
    }

    private var isStopped: Bool { state.withLockedValue { $0.stopped } }

    private func run(_ pass: @escaping @Sendable () async -> Bool) async {
        var backoff: TimeAmount?
        while !isStopped {
            if await pass() {
                let doubled = backoff.map { $0 + $0 } ?? interval + interval
                backoff = min(doubled, Self.maxBackoff)
            } else {
                backoff = nil
            }
            await sleep(backoff ?? interval)
        }
        logger.debug("scheduled-end loop stopped")
    }

    private func sleep(_ amount: TimeAmount) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let generation = state.withLockedValue { state -> Int? in
                if state.stopped || state.wakeRequested {
                    state.wakeRequested = false
                    return nil
                }
                state.generation += 1
                state.sleeper = continuation
                return state.generation
            }
            guard let generation else { return continuation.resume() }
            eventLoop.scheduleTask(in: amount) { [state] in
                let sleeper = state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
                    guard state.generation == generation, let sleeper = state.sleeper else { return nil }
                    state.sleeper = nil
                    return sleeper
                }
                sleeper?.resume()
            }
        }
    }
}
