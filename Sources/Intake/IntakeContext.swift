import APNs
import NIOConcurrencyHelpers
import NIOCore
import Synchronization

/// What every intake connection shares: the configuration, the routes to the apps' clients, the extension
/// operations, and the intake's own counters (lock-free).
final class IntakeContext: Sendable {
    let configuration: IntakeConfiguration
    let routes: IntakeRoutes
    let operations: [String: any IntakeOperation]
    /// "send, ping, stats" and the extension ops, sorted, for `UnknownOp` messages.
    let knownOps: String
    let openConnections = Synchronization.Atomic<Int>(0)
    let acceptedConnections = Synchronization.Atomic<Int>(0)
    let rejectedConnections = Synchronization.Atomic<Int>(0)
    let requests = Synchronization.Atomic<Int>(0)
    let notifications = Synchronization.Atomic<Int>(0)
    /// Extension-op requests accepted.
    let operationRequests = Synchronization.Atomic<Int>(0)
    /// `send` and extension-op requests accepted and not yet answered, over all connections.
    let pendingRequests = Synchronization.Atomic<Int>(0)
    private let errorCounts = NIOLockedValueBox<[String: Int]>([:])

    init(configuration: IntakeConfiguration, routes: IntakeRoutes, operations: [String: any IntakeOperation] = [:]) {
        self.configuration = configuration
        self.routes = routes
        self.operations = operations
        self.knownOps = (["send", "ping", "stats"] + operations.keys.sorted()).joined(separator: ", ")
    }

    /// Extension ops running over all connections, and who waits for none to be running.
    private let runningOperations = NIOLockedValueBox<(count: Int, waiters: [Int: CheckedContinuation<Void, Never>], nextWaiter: Int)>(
        (0, [:], 0))

    func operationStarted() {
        runningOperations.withLockedValue { $0.count += 1 }
    }

    func operationFinished() {
        let waiters = runningOperations.withLockedValue { state -> [CheckedContinuation<Void, Never>] in
            state.count -= 1
            guard state.count == 0 else { return [] }
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once no extension op is running, or after `timeout`.
    func waitForOperations(timeout: TimeAmount, on eventLoop: any EventLoop) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let key = runningOperations.withLockedValue { state -> Int? in
                guard state.count > 0 else { return nil }
                state.nextWaiter += 1
                state.waiters[state.nextWaiter] = continuation
                return state.nextWaiter
            }
            guard let key else { return continuation.resume() }
            let running = runningOperations
            eventLoop.scheduleTask(in: timeout) {
                running.withLockedValue { $0.waiters.removeValue(forKey: key) }?.resume()
            }
        }
    }

    func countError(_ code: IntakeErrorCode) {
        countError(named: code.rawValue)
    }

    func countError(named code: String) {
        errorCounts.withLockedValue { $0[code, default: 0] += 1 }
    }

    /// The `stats` reply.
    func writeStats(id: ByteBuffer, into buffer: ByteBuffer) -> ByteBuffer {
        var writer = JSONObjectWriter(buffer: buffer)
        writer.begin()
        writer.raw("id", id)
        writer.begin("stats")
        writer.begin("intake")
        writer.field("connections", openConnections.load(ordering: .relaxed))
        writer.field("connectionsAccepted", acceptedConnections.load(ordering: .relaxed))
        writer.field("connectionsRejected", rejectedConnections.load(ordering: .relaxed))
        writer.field("requests", requests.load(ordering: .relaxed))
        writer.field("notifications", notifications.load(ordering: .relaxed))
        writer.field("operations", operationRequests.load(ordering: .relaxed))
        writer.field("pendingRequests", pendingRequests.load(ordering: .relaxed))
        writer.begin("errors")
        for (code, count) in errorCounts.withLockedValue({ $0 }).sorted(by: { $0.key < $1.key }) {
            writer.field(code, count)
        }
        writer.end()
        writer.end()
        writer.begin("apps")
        for (name, client) in routes.clients {
            let stats = client.statistics
            writer.begin(name)
            writer.field("accepted", stats.accepted)
            writer.field("sent", stats.answeredByAPNs)
            writer.field("succeeded", stats.succeeded)
            writer.field("rejectedLocally", stats.rejectedLocally)
            writer.field("failedInGateway", stats.failedInGateway)
            writer.field("retries", stats.retries)
            writer.field("attemptFailures", stats.attemptFailures)
            writer.field("outstanding", stats.outstanding)
            writer.field("inFlight", stats.pool.inFlight)
            writer.field("queued", stats.pool.queued)
            writer.field("tokenRefreshes", stats.tokenRefreshes)
            writer.begin("byOutcome")
            for (outcome, count) in stats.byOutcome.sorted(by: { $0.key < $1.key }) {
                writer.field(outcome, count)
            }
            writer.end()
            writer.begin("connections")
            writer.field("connecting", stats.pool.connecting)
            writer.field("ready", stats.pool.ready)
            writer.field("backingOff", stats.pool.backingOff)
            writer.field("draining", stats.pool.draining)
            writer.field("opened", stats.pool.connectionsOpened)
            writer.field("streamLimits", stats.pool.streamLimits)
            writer.end()
            writer.end()
        }
        writer.end()
        writer.end()
        writer.end()
        var buffer = writer.buffer
        buffer.writeInteger(UInt8(ascii: "\n"))
        return buffer
    }
}
