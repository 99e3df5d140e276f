import APNs
import NIOConcurrencyHelpers
import JSON
import NIOCore
import Synchronization

/// What every intake connection shares: the configuration, the routes to the apps' clients, the extension
/// operations, and the intake's own counters (lock-free).
final class IntakeContext: Sendable {
    let configuration: IntakeConfiguration
    let routes: APNsApps
    let operations: [String: any IntakeOperation]
    /// "send, ping, stats" and the extension ops, sorted, for `UnknownOp` messages.
    let knownOps: String
    let openConnections = Synchronization.Atomic<Int>(0)
    let acceptedConnections = Synchronization.Atomic<Int>(0)
    let rejectedConnections = Synchronization.Atomic<Int>(0)
    let requests = Synchronization.Atomic<Int>(0)
    let bytesReceived = Synchronization.Atomic<Int>(0)
    let notifications = Synchronization.Atomic<Int>(0)
    /// Extension-op requests accepted.
    let operationRequests = Synchronization.Atomic<Int>(0)
    /// `send` and extension-op requests accepted and not yet answered, over all connections.
    let pendingRequests = Synchronization.Atomic<Int>(0)
    /// The time the gateway adds to each notification sent through the intake.
    let addedLatency = IntakeAddedLatency()
    /// Error replies, by the position of their code in `IntakeErrorCode.allCases`.
    private let errorCounts = AtomicCounterArray(count: IntakeErrorCode.allCases.count)
    /// Error replies of extension ops with codes of their own (e.g. `UnknownActivity`), by code.
    private let operationErrorCounts = NIOLockedValueBox<[String: Int]>([:])
    /// Notifications refused by the intake itself, by `IntakeRejectionReason`.
    private let rejectionCounts = AtomicCounterArray(count: IntakeRejectionReason.allCases.count)

    init(configuration: IntakeConfiguration, routes: APNsApps, operations: [String: any IntakeOperation] = [:]) {
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
        errorCounts.add(IntakeErrorCode.allCases.firstIndex(of: code)!)
    }

    /// Counts an error reply by its code: the intake's own codes lock-free, an extension op's codes (rare,
    /// and not known in advance) under a lock.
    func countError(named code: String) {
        if let known = IntakeErrorCode(rawValue: code) {
            countError(known)
        } else {
            operationErrorCounts.withLockedValue { $0[code, default: 0] += 1 }
        }
    }

    func countRejection(_ reason: IntakeRejectionReason) {
        rejectionCounts.add(reason.rawValue)
    }

    var statistics: IntakeStatistics {
        var errors = operationErrorCounts.withLockedValue { $0 }
        for (index, count) in errorCounts.loadAll().enumerated() where count > 0 {
            errors[IntakeErrorCode.allCases[index].rawValue] = count
        }
        var rejections: [String: Int] = [:]
        for (index, count) in rejectionCounts.loadAll().enumerated() where count > 0 {
            rejections[IntakeRejectionReason.allCases[index].name] = count
        }
        return IntakeStatistics(
            connections: openConnections.load(ordering: .relaxed),
            connectionsAccepted: acceptedConnections.load(ordering: .relaxed),
            connectionsRejected: rejectedConnections.load(ordering: .relaxed),
            requests: requests.load(ordering: .relaxed),
            bytes: bytesReceived.load(ordering: .relaxed),
            notifications: notifications.load(ordering: .relaxed),
            operations: operationRequests.load(ordering: .relaxed),
            pendingRequests: pendingRequests.load(ordering: .relaxed),
            errors: errors,
            rejections: rejections,
            addedLatency: addedLatency.statistics
        )
    }

    /// The `stats` reply: the same figures the Prometheus metrics show, read from the same counters.
    func writeStats(id: ByteBuffer, into buffer: ByteBuffer) -> ByteBuffer {
        var writer = JSONWriter(members: buffer)
        writer.beginObject()
        writer.raw("id", id)
        writer.beginObject("stats")
        writer.intake(statistics)
        writer.beginObject("apps")
        for (name, client) in routes.clients {
            writer.app(name, client.statistics)
        }
        writer.endObject()
        writer.endObject()
        writer.endObject()
        var buffer = writer.buffer
        buffer.writeInteger(UInt8(ascii: "\n"))
        return buffer
    }
}
