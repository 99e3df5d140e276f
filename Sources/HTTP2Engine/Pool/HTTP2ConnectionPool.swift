import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// A pool of HTTP/2 client connections to one server.
///
/// Exchanges wait in one bounded queue. Connections pull from it whenever they have free streams, so each
/// connection stays at the server's stream limit and a burst spreads over all of them. When the queue is full,
/// ``execute(_:)`` answers ``HTTP2Error/queueFull`` at once: callers use that as their backpressure signal.
///
/// Threading: the pool's state is a ``ConnectionPoolStateMachine`` behind one lock. Each connection lives on
/// one event loop and calls back on it; side effects (connects, wake-ups, failures) run after the lock is
/// released.
public final class HTTP2ConnectionPool: Sendable {
    /// Something that happened to a connection, for logs and metrics.
    public enum Event: Sendable {
        case connecting(connectionID: Int)
        case ready(connectionID: Int, maxStreams: Int)
        case goingAway(connectionID: Int, reason: HTTP2ConnectionEnd)
        case closed(connectionID: Int, reason: HTTP2ConnectionEnd)
    }

    fileprivate struct Inner {
        var machine: ConnectionPoolStateMachine
        var handlers: [Int: NIOLoopBound<HTTP2ClientHandler>] = [:]
        var gauges: [Int: HTTP2ConnectionGauges] = [:]
        /// Recently closed connections: a connect failure can be reported twice, moments apart. Bounded.
        var closedIDs: Set<Int> = []
        var closedOrder: [Int] = []
        var readyWaiters: [(minimum: Int, continuation: CheckedContinuation<Void, Error>)] = []
        var started = false
        var connectionsOpened = 0
        var connectionsClosed: [String: Int] = [:]
        var connectionsFailed: [String: Int] = [:]
        var goAways: [HTTP2GoAwayKey: Int] = [:]
        var reconnectBackoffs = 0
        /// Connections that have been ready and are not yet closed: a close of any other is a failed connect.
        var readyIDs: Set<Int> = []
        var everReady = false
        var unavailableSince: NIODeadline?
        var lastEnd: HTTP2ConnectionEnd?
        var sweep: RepeatedTask?
        var sweeps = 0
        var shutdownWaiters: [CheckedContinuation<Void, Never>] = []
        /// Connects started whose channel has no handler yet: shutdown waits for them too, so that no connect is
        /// still under way when the caller shuts the event loops down.
        var attempts: Set<Int> = []
        /// Reconnects waiting out their back-off, by connection: shutdown cancels them.
        var backoffTimers: [Int: Scheduled<Void>] = [:]

        /// Nothing open and nothing connecting.
        var isIdle: Bool { handlers.isEmpty && attempts.isEmpty }
    }

    public let configuration: HTTP2PoolConfiguration
    private let group: any EventLoopGroup
    private let tlsContext: TLSContext
    private let logger: Logger
    private let onEvent: (@Sendable (Event) -> Void)?
    private let inner: NIOLockedValueBox<Inner>

    /// Builds the pool; nothing connects until ``start()``. Throws ``TLSError`` for a bad TLS configuration.
    public init(
        configuration: HTTP2PoolConfiguration,
        group: any EventLoopGroup,
        logger: Logger = Logger(label: "apns.http2.pool"),
        onEvent: (@Sendable (Event) -> Void)? = nil
    ) throws {
        precondition(configuration.connectionCount > 0, "connectionCount must be positive")
        precondition(configuration.maxQueued > 0, "maxQueued must be positive")
        self.configuration = configuration
        self.group = group
        self.tlsContext = try TLSContext(configuration: configuration.tls)
        self.logger = logger
        self.onEvent = onEvent
        let machine = ConnectionPoolStateMachine(configuration: .init(
            connectionCount: configuration.connectionCount,
            maxQueued: configuration.maxQueued,
            staggerMilliseconds: configuration.connectStagger.nanoseconds / 1_000_000,
            reconnectInitialMilliseconds: max(1, configuration.reconnectInitialBackoff.nanoseconds / 1_000_000),
            reconnectMaxMilliseconds: max(1, configuration.reconnectMaxBackoff.nanoseconds / 1_000_000)
        ))
        self.inner = NIOLockedValueBox(Inner(machine: machine))
    }

    /// Opens the connections (staggered) and starts the deadline sweep.
    public func start() {
        let actions: ConnectionPoolStateMachine.Actions? = inner.withLockedValue { inner in
            guard !inner.started else { return nil }
            inner.started = true
            inner.unavailableSince = .now()
            let loop = group.next()
            inner.sweep = loop.scheduleRepeatedTask(
                initialDelay: configuration.connection.tickInterval,
                delay: configuration.connection.tickInterval
            ) { [weak self] _ in
                self?.sweepQueue()
            }
            return inner.machine.start()
        }
        if let actions { run(actions) }
    }

    /// Queues one exchange. Returns false, without queueing, when the queue is full or the pool is shutting
    /// down; the exchange is then completed with ``HTTP2Error/queueFull`` or ``HTTP2Error/shutdown``.
    /// A retry of an exchange that was already accepted once passes `bypassingQueueLimit`, so that it never
    /// loses its place to the bound.
    @discardableResult
    public func execute(_ exchange: any HTTP2Exchange, bypassingQueueLimit: Bool = false) -> Bool {
        let result = inner.withLockedValue { $0.machine.enqueue(exchange, bypassingLimit: bypassingQueueLimit) }
        switch result {
        case .accepted(let wake):
            if !wake.isEmpty { wakeConnections(wake) }
            return true
        case .rejected(let error):
            exchange.complete(.failure(error))
            return false
        }
    }

    /// Queues as many of `exchanges` as fit, in order, under one lock. Returns how many were queued; the rest are
    /// not completed and remain the caller's.
    public func execute<C: Collection>(contentsOf exchanges: C) -> Int where C.Element == any HTTP2Exchange {
        var wake: Set<Int> = []
        var accepted = 0
        inner.withLockedValue { inner in
            for exchange in exchanges {
                guard case .accepted(let ids) = inner.machine.enqueue(exchange) else { break }
                accepted += 1
                wake.formUnion(ids)
            }
        }
        if !wake.isEmpty { wakeConnections(Array(wake)) }
        return accepted
    }

    /// How many more exchanges the queue takes right now.
    public var spaceInQueue: Int {
        inner.withLockedValue { $0.machine.spaceInQueue }
    }

    /// Waits until at least `connections` connections are ready, or throws the connection error when a connect
    /// failed in a way retrying cannot fix (certificate, ALPN), or ``HTTP2Error/deadlineExceeded`` after `timeout`.
    public func waitUntilReady(connections: Int = 1, timeout: TimeAmount = .seconds(10)) async throws {
        let loop = group.next()
        let timer = loop.scheduleTask(in: timeout) { [weak self] in
            self?.resumeReadyWaiters(with: HTTP2Error.deadlineExceeded)
        }
        defer { timer.cancel() }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            let immediate: Result<Void, Error>? = inner.withLockedValue { inner in
                if inner.machine.readyCount >= min(connections, configuration.connectionCount) { return .success(()) }
                if let error = inner.machine.lastConnectionError, error.isFatal {
                    return .failure(HTTP2Error.connectFailed(error))
                }
                inner.readyWaiters.append((min(connections, configuration.connectionCount), continuation))
                return nil
            }
            if let immediate { continuation.resume(with: immediate) }
        }
    }

    /// Stops taking exchanges, answers the queued ones with ``HTTP2Error/shutdown``, lets in-flight streams finish
    /// for up to `grace`, then closes every connection.
    public func shutdown(grace: TimeAmount = .seconds(5)) async {
        let (actions, alreadyClosed) = inner.withLockedValue { inner -> (ConnectionPoolStateMachine.Actions, Bool) in
            inner.sweep?.cancel()
            inner.sweep = nil
            for timer in inner.backoffTimers.values { timer.cancel() }
            inner.backoffTimers.removeAll()
            let actions = inner.machine.shutdown()
            return (actions, inner.isIdle)
        }
        resumeReadyWaiters(with: HTTP2Error.shutdown)
        let deadline = NIODeadline.now() + grace
        run(actions, drainDeadline: deadline)
        if alreadyClosed { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = inner.withLockedValue { inner -> Bool in
                if inner.isIdle { return true }
                inner.shutdownWaiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    /// Current figures.
    public var statistics: HTTP2PoolStatistics {
        inner.withLockedValue { inner in
            let states = inner.machine.connectionStates
            var inFlight = 0
            var limits: [Int] = []
            for gauges in inner.gauges.values {
                inFlight += gauges.inFlight.load(ordering: .relaxed)
                let limit = gauges.streamLimit.load(ordering: .relaxed)
                if limit > 0 { limits.append(limit) }
            }
            let bySlot = inner.machine.slots.map { slot -> Int in
                guard slot.state == .ready, let id = slot.connectionID, let gauges = inner.gauges[id] else { return 0 }
                return gauges.streamLimit.load(ordering: .relaxed)
            }
            let windowsBySlot = inner.machine.slots.map { slot -> Int in
                guard slot.state == .ready, let id = slot.connectionID, let gauges = inner.gauges[id] else { return 0 }
                return gauges.serverWindow.load(ordering: .relaxed)
            }
            return HTTP2PoolStatistics(
                queued: inner.machine.queuedCount,
                inFlight: inFlight,
                connecting: states.connecting,
                ready: states.ready,
                backingOff: states.backingOff,
                draining: states.draining,
                streamLimits: limits,
                streamLimitsBySlot: bySlot,
                serverWindowsBySlot: windowsBySlot,
                connectionsOpened: inner.connectionsOpened,
                connectionsClosed: inner.connectionsClosed,
                connectionsFailed: inner.connectionsFailed,
                goAways: inner.goAways,
                reconnectBackoffs: inner.reconnectBackoffs,
                everReady: inner.everReady,
                unavailableSince: inner.unavailableSince,
                lastEnd: inner.lastEnd
            )
        }
    }

    // MARK: Side effects

    /// Carries out `actions`. Exchanges are failed last: a caller that sees its exchange fail may shut the pool and
    /// then the event loops down at once, so everything that schedules on a loop is done by then.
    private func run(_ actions: ConnectionPoolStateMachine.Actions, drainDeadline: NIODeadline? = nil) {
        for connect in actions.connect {
            if connect.delay > .zero {
                // On the loop running this when there is one: it cannot finish shutting down under us.
                let loop = MultiThreadedEventLoopGroup.currentEventLoop ?? group.next()
                let id = connect.connectionID
                let timer = loop.scheduleTask(in: connect.delay) { [weak self] in
                    guard let self else { return }
                    self.inner.withLockedValue { _ = $0.backoffTimers.removeValue(forKey: id) }
                    self.connect(connectionID: id)
                }
                let stale = inner.withLockedValue { inner -> Bool in
                    if inner.machine.isShuttingDown { return true }
                    inner.backoffTimers[id] = timer
                    return false
                }
                if stale { timer.cancel() }
            } else {
                self.connect(connectionID: connect.connectionID)
            }
        }
        if !actions.wake.isEmpty {
            wakeConnections(actions.wake)
        }
        let deadline = drainDeadline ?? NIODeadline.now() + .seconds(5)
        for id in actions.drain {
            guard let handler = inner.withLockedValue({ $0.handlers[id] }) else { continue }
            handler.eventLoop.execute { handler.value.drain(deadline: deadline) }
        }
        for (exchange, error) in actions.fail {
            exchange.complete(.failure(error))
        }
    }

    private func wakeConnections(_ ids: [Int]) {
        let handlers = inner.withLockedValue { inner in ids.compactMap { inner.handlers[$0] } }
        for handler in handlers {
            handler.eventLoop.execute { handler.value.wake() }
        }
    }

    private func connect(connectionID: Int) {
        let proceed = inner.withLockedValue { inner -> Bool in
            guard !inner.machine.isShuttingDown else { return false }
            inner.machine.connectionAttemptStarted(connectionID)
            inner.attempts.insert(connectionID)
            inner.connectionsOpened += 1
            return true
        }
        guard proceed else { return }
        var metadata: Logger.Metadata = [
            "connection": "\(connectionID)", "host": "\(configuration.host)", "port": "\(configuration.port)",
        ]
        if let proxy = configuration.proxy { metadata["proxy"] = "\(proxy.host):\(proxy.port)" }
        logger.info("connecting", metadata: metadata)
        onEvent?(.connecting(connectionID: connectionID))
        let configuration = self.configuration
        let tlsContext = self.tlsContext
        let loop = group.next()
        ClientBootstrap(group: loop)
            .connectTimeout(configuration.connection.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { [weak self] channel in
                guard let self else {
                    return channel.eventLoop.makeFailedFuture(HTTP2Error.shutdown)
                }
                do {
                    let tls = try TLSConnection(context: tlsContext, serverName: configuration.serverName ?? configuration.host)
                    let handler = HTTP2ClientHandler(
                        connectionID: connectionID,
                        configuration: configuration.connection,
                        tls: tls,
                        delegate: self
                    )
                    let bound = NIOLoopBound(handler, eventLoop: channel.eventLoop)
                    self.inner.withLockedValue {
                        $0.handlers[connectionID] = bound
                        $0.gauges[connectionID] = handler.gauges
                        $0.attempts.remove(connectionID)
                    }
                    if let proxy = configuration.proxy {
                        try channel.pipeline.syncOperations.addHandler(HTTP2ProxyConnectHandler(
                            proxy: proxy, targetHost: configuration.host, targetPort: configuration.port,
                            timeout: configuration.connection.connectTimeout))
                    }
                    try channel.pipeline.syncOperations.addHandler(handler)
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
            .connect(host: configuration.proxy?.host ?? configuration.host, port: configuration.proxy?.port ?? configuration.port)
            .whenFailure { [weak self] error in
                guard let self else { return }
                // The channel never became active, so its handler reports nothing: report the failed connect here.
                let reason: HTTP2ConnectionEnd
                if let tls = error as? TLSError {
                    reason = .tls(tls)
                } else if let proxy = configuration.proxy {
                    reason = .transport("cannot reach the proxy \(proxy.host):\(proxy.port): \(Self.connectFailure(error))")
                } else {
                    reason = .transport("\(error)")
                }
                self.handleClosed(connectionID, reason: reason, unsent: [])
            }
    }

    /// Why a TCP connect failed, in the system's words (`Connection refused`) when it gave an errno.
    static func connectFailure(_ error: Error) -> String {
        if let error = error as? NIOConnectionError, let first = error.connectionErrors.first {
            return connectFailure(first.error)
        }
        if let error = error as? IOError {
            return String(cString: strerror(error.errnoCode))
        }
        return "\(error)"
    }

    private func sweepQueue() {
        let actions = inner.withLockedValue { inner in
            inner.sweeps &+= 1
            return inner.machine.expireQueued(now: .now(), fullScan: inner.sweeps % 20 == 0)
        }
        if !actions.isEmpty { run(actions) }
    }

    /// Resumes the waiters that `result` settles: all of them for a failure, those whose minimum is met for a
    /// success.
    private func resumeReadyWaiters(with result: Result<Void, Error>) {
        let waiters = inner.withLockedValue { inner -> [CheckedContinuation<Void, Error>] in
            let ready = inner.machine.readyCount
            var settled: [CheckedContinuation<Void, Error>] = []
            inner.readyWaiters.removeAll { waiter in
                if case .success = result, waiter.minimum > ready { return false }
                settled.append(waiter.continuation)
                return true
            }
            return settled
        }
        for waiter in waiters { waiter.resume(with: result) }
    }

    private func resumeReadyWaiters(with error: Error) {
        resumeReadyWaiters(with: .failure(error))
    }

    private func handleClosed(_ connectionID: Int, reason: HTTP2ConnectionEnd, unsent: [any HTTP2Exchange]) {
        let outcome = inner.withLockedValue { inner -> (ConnectionPoolStateMachine.Actions, [CheckedContinuation<Void, Never>], Bool, Bool, (delay: TimeAmount, failures: Int)?)? in
            inner.attempts.remove(connectionID)
            // Report each connection's end once, whichever side notices it first.
            guard inner.gauges.removeValue(forKey: connectionID) != nil || inner.handlers[connectionID] == nil,
                  !inner.closedIDs.contains(connectionID)
            else { return nil }
            inner.closedIDs.insert(connectionID)
            inner.closedOrder.append(connectionID)
            if inner.closedOrder.count > 256 {
                inner.closedIDs.remove(inner.closedOrder.removeFirst())
            }
            inner.handlers.removeValue(forKey: connectionID)
            inner.connectionsClosed[reason.label, default: 0] += 1
            let wasReady = inner.readyIDs.remove(connectionID) != nil
            if !wasReady { inner.connectionsFailed[reason.label, default: 0] += 1 }
            inner.lastEnd = reason
            let actions = inner.machine.connectionClosed(
                connectionID, reason: reason, unsent: unsent, stillOpen: false, random: Double.random(in: 0..<1)
            )
            inner.noteAvailability()
            // A connect after a failure waits its back-off; the other connects start at once.
            var backoff: (delay: TimeAmount, failures: Int)?
            if let connect = actions.connect.first(where: { $0.delay > .zero }) {
                inner.reconnectBackoffs += 1
                backoff = (connect.delay, inner.machine.slots[connect.slot].consecutiveFailures)
            }
            var waiters: [CheckedContinuation<Void, Never>] = []
            if inner.machine.isShuttingDown && inner.isIdle {
                waiters = inner.shutdownWaiters
                inner.shutdownWaiters.removeAll()
            }
            let fatal = reason.isFatal && inner.machine.readyCount == 0
            return (actions, waiters, fatal, wasReady, backoff)
        }
        guard let (actions, waiters, fatal, wasReady, backoff) = outcome else {
            for exchange in unsent { exchange.complete(.failure(.notSent("connection closed"))) }
            return
        }
        if wasReady {
            logger.info("connection closed", metadata: [
                "connection": "\(connectionID)", "reason": "\(reason.label)", "detail": "\(reason)", "unsent": "\(unsent.count)",
            ])
        } else {
            logger.warning("connect failed", metadata: [
                "connection": "\(connectionID)", "reason": "\(reason.label)", "detail": "\(reason)",
            ])
        }
        if let backoff {
            logger.info("reconnecting after back-off", metadata: [
                "delay_ms": "\(backoff.delay.nanoseconds / 1_000_000)", "failures": "\(backoff.failures)",
            ])
        }
        onEvent?(.closed(connectionID: connectionID, reason: reason))
        if fatal {
            resumeReadyWaiters(with: HTTP2Error.connectFailed(reason))
        }
        run(actions)
        for waiter in waiters { waiter.resume() }
    }
}

extension HTTP2ConnectionPool: HTTP2ConnectionDelegate {
    func connectionReady(_ connectionID: Int, maxStreams: Int) {
        let actions = inner.withLockedValue { inner in
            let actions = inner.machine.connectionReady(connectionID)
            inner.readyIDs.insert(connectionID)
            inner.everReady = true
            inner.noteAvailability()
            return actions
        }
        logger.info("connection ready", metadata: ["connection": "\(connectionID)", "max_streams": "\(maxStreams)"])
        onEvent?(.ready(connectionID: connectionID, maxStreams: maxStreams))
        resumeReadyWaiters(with: .success(()))
        run(actions)
    }

    func dequeue(for connectionID: Int, max: Int, into batch: inout [any HTTP2Exchange]) -> Bool {
        inner.withLockedValue { $0.machine.dequeue(for: connectionID, max: max, into: &batch) }
    }

    func connectionGoingAway(_ connectionID: Int, _ reason: HTTP2ConnectionEnd) {
        let actions = inner.withLockedValue { inner in
            if let labels = reason.goAwayLabels {
                var key = HTTP2GoAwayKey(errorCode: labels.errorCode, reason: labels.reason)
                // The server chooses the words: past a few dozen distinct ones, count the rest together.
                if inner.goAways[key] == nil && inner.goAways.count >= 32 { key.reason = "other" }
                inner.goAways[key, default: 0] += 1
            }
            let actions = inner.machine.connectionGoingAway(connectionID, random: Double.random(in: 0..<1))
            inner.noteAvailability()
            return actions
        }
        var metadata: Logger.Metadata = ["connection": "\(connectionID)", "reason": "\(reason.label)", "detail": "\(reason)"]
        if let labels = reason.goAwayLabels {
            metadata["error_code"] = "\(labels.errorCode)"
            metadata["goaway_reason"] = "\(labels.reason)"
        }
        logger.info("connection going away", metadata: metadata)
        onEvent?(.goingAway(connectionID: connectionID, reason: reason))
        run(actions)
    }

    func connectionReturned(_ connectionID: Int, unsent: [any HTTP2Exchange]) {
        let actions = inner.withLockedValue {
            $0.machine.connectionClosed(connectionID, reason: .closedLocally, unsent: unsent, stillOpen: true, random: 0)
        }
        run(actions)
    }

    func connectionClosed(_ connectionID: Int, _ reason: HTTP2ConnectionEnd, unsent: [any HTTP2Exchange]) {
        handleClosed(connectionID, reason: reason, unsent: unsent)
    }
}

extension HTTP2ConnectionPool.Inner {
    /// Notes when the pool is left without a ready connection, and clears that once one is ready again.
    mutating func noteAvailability() {
        if machine.readyCount > 0 {
            unavailableSince = nil
        } else if unavailableSince == nil {
            unavailableSince = .now()
        }
    }
}
