import APNsCore
import HTTP2Engine
import Logging
import NIOConcurrencyHelpers
import NIOCore
import Synchronization

/// Sends notifications to APNs over a pool of HTTP/2 connections.
///
/// Every notification handed to the client ends in exactly one ``APNsResult``: APNs's answer, a local rejection
/// (malformed notifications never reach APNs), or a gateway failure with its reason. The number of
/// notifications accepted and not yet answered is bounded by ``APNsClientConfiguration/maxOutstanding``.
public final class APNsClient: Sendable {
    public let configuration: APNsClientConfiguration
    /// The provider-token cache with token authentication (nil with a certificate); rotate its key to have
    /// every connection send tokens of a new key (``APNsProviderTokenCache/rotate(key:keyID:teamID:)``).
    public let tokens: APNsProviderTokenCache?
    let authority: String
    let pool: HTTP2ConnectionPool
    let group: any EventLoopGroup
    let limiter: OutstandingLimiter
    private let clock: @Sendable () -> Int64
    private let counters = APNsClientCounters()
    /// Set by ``shutdown(grace:)``: new notifications are answered with ``GatewayReason/shutdown``.
    let closing = Atomic<Bool>(false)
    /// Set once the grace is over: retries are answered with ``GatewayReason/shutdown`` instead of sent.
    let retiring = Atomic<Bool>(false)
    let logger: Logger
    /// Broadcast results by ``APNsBroadcastResult/countLabel``.
    let broadcastCounts = NIOLockedValueBox<[String: Int]>([:])
    /// The channel management client, made on first use (management calls are rare).
    let managementBox = NIOLockedValueBox<APNsChannelManager?>(nil)

    /// Builds the client; call ``start()`` to connect. `clock` gives epoch seconds (tests inject their own).
    public init(
        configuration: APNsClientConfiguration,
        group: any EventLoopGroup,
        logger: Logger = Logger(label: "apns.client"),
        clock: @escaping @Sendable () -> Int64 = APNsProviderTokenCache.systemClock,
        onConnectionEvent: (@Sendable (HTTP2ConnectionPool.Event) -> Void)? = nil
    ) throws {
        self.configuration = configuration
        self.group = group
        self.logger = logger
        self.clock = clock
        if case .token(let cache) = configuration.authentication {
            self.tokens = cache
        } else {
            self.tokens = nil
        }
        let poolConfiguration = configuration.poolConfiguration
        self.authority = poolConfiguration.authority
        self.pool = try HTTP2ConnectionPool(configuration: poolConfiguration, group: group, logger: logger, onEvent: onConnectionEvent)
        self.limiter = OutstandingLimiter(limit: configuration.maxOutstanding, byteLimit: configuration.maxOutstandingBytes)
    }

    /// Opens the connections.
    public func start() {
        pool.start()
    }

    /// Waits until `connections` connections are ready; throws when none can be made (see
    /// ``HTTP2ConnectionPool/waitUntilReady(connections:timeout:)``).
    public func waitUntilReady(connections: Int = 1, timeout: TimeAmount = .seconds(10)) async throws {
        try await pool.waitUntilReady(connections: connections, timeout: timeout)
    }

    /// Sends one notification without waiting for room. Returns false, and does nothing else, when the client
    /// is at its bound of outstanding notifications: the caller should stop reading input and try again after
    /// ``whenCapacityAvailable(_:)``. Otherwise `completion` receives the result exactly once, on an
    /// arbitrary thread.
    public func trySend(_ notification: consuming APNsNotification, completion: @escaping @Sendable (APNsResult) -> Void) -> Bool {
        guard limiter.tryAcquire(bytes: Self.outstandingBytes(notification)) else { return false }
        dispatch(notification, completion: .closure { result, _ in completion(result) })
        return true
    }

    /// ``trySend(_:completion:)`` for a caller that sends many notifications to one ``APNsResultReceiver``:
    /// the result comes to `receiver` with `index` and the notification's ``APNsResultTimes`` (when its first
    /// attempt was written, when its result became known), so that the caller can measure the time it adds
    /// itself around the client (the intake's added-latency figures). No allocation for the completion.
    public func trySend(_ notification: consuming APNsNotification, to receiver: any APNsResultReceiver, index: Int) -> Bool {
        guard limiter.tryAcquire(bytes: Self.outstandingBytes(notification)) else { return false }
        dispatch(notification, completion: .receiver(receiver, index))
        return true
    }

    /// Calls `callback` once ``trySend(_:completion:)`` can accept notifications again: at once if it can now,
    /// otherwise when room for a run of them has come free (an eighth of `maxOutstanding`, at most 1,024), so
    /// that a waiting caller is not woken once per answer.
    public func whenCapacityAvailable(_ callback: @escaping @Sendable () -> Void) {
        limiter.whenAvailable(callback)
    }

    /// Sends one notification, waiting for room if the client is at its bound, and returns its result.
    public func send(_ notification: APNsNotification) async -> APNsResult {
        await limiter.acquire(bytes: Self.outstandingBytes(notification))
        return await withCheckedContinuation { continuation in
            dispatch(notification, completion: .closure { result, _ in continuation.resume(returning: result) })
        }
    }

    /// Sends notifications with a callback per result (index, result), waiting for room as needed.
    /// Returns once every notification is accepted; results may still be arriving.
    public func send(_ notifications: [APNsNotification], onResult: @escaping @Sendable (Int, APNsResult) -> Void) async {
        for (index, notification) in notifications.enumerated() {
            let bytes = Self.outstandingBytes(notification)
            if !limiter.tryAcquire(bytes: bytes) {
                await limiter.acquire(bytes: bytes)
            }
            dispatch(notification, completion: .closure { result, _ in onResult(index, result) })
        }
    }

    /// Sends a batch and returns the results in input order.
    public func send(batch notifications: [APNsNotification]) async -> [APNsResult] {
        let collector = APNsResultCollector(count: notifications.count)
        await send(notifications) { index, result in collector.set(index, result) }
        return await collector.wait()
    }

    private func dispatch(_ notification: consuming APNsNotification, completion: APNsPush.Completion) {
        counters.accepted.add(1, ordering: .relaxed)
        if closing.load(ordering: .relaxed) {
            let result = APNsResult.gateway(.shutdown, "the gateway is shutting down")
            finished(result, slot: .gateway(.shutdown), after: .zero, bytes: Self.outstandingBytes(notification))
            completion.deliver(result, .unknown)
            return
        }
        do {
            try notification.validate()
        } catch {
            let result = APNsResult.local(error)
            finished(result, slot: .local(error), after: .zero, bytes: Self.outstandingBytes(notification))
            logFailure(result, token: notification.deviceToken)
            completion.deliver(result, .unknown)
            return
        }
        let now = NIODeadline.now()
        let push = APNsPush(
            notification: notification,
            acceptedAt: now,
            deadline: now + configuration.requestTimeout,
            client: self,
            completion: completion
        )
        pool.execute(push)
    }

    // MARK: Called by APNsPush

    func retry(_ push: APNsPush, after delay: TimeAmount) {
        if retiring.load(ordering: .relaxed) {
            push.complete(.failure(.shutdown))
            return
        }
        counters.retries.add(1, ordering: .relaxed)
        push.detachPayload()
        if delay <= .zero {
            push.enqueuedAt = .now()
            pool.execute(push, bypassingQueueLimit: true)
        } else {
            let pool = self.pool
            group.next().scheduleTask(in: delay) {
                push.enqueuedAt = .now()
                pool.execute(push, bypassingQueueLimit: true)
            }
        }
    }

    /// Counts a final result and its time since acceptance, and frees its place (`bytes`: what
    /// ``outstandingBytes(_:)`` took for it).
    @inline(__always)
    func finished(_ result: APNsResult, slot: APNsOutcomeCounters.Slot, after elapsed: TimeAmount, bytes: Int) {
        counters.record(result, slot: slot)
        counters.endToEnd.record(elapsed)
        limiter.release(bytes: bytes)
    }

    /// What a notification counts against ``APNsClientConfiguration/maxOutstandingBytes``: its payload plus
    /// the estimated overhead of one outstanding notification.
    @inline(__always)
    static func outstandingBytes(_ notification: APNsNotification) -> Int {
        notification.payload.readableBytes + APNsClientConfiguration.estimatedBytesPerNotification
    }

    /// Records an answered attempt's time in the queue and at APNs.
    @inline(__always)
    func recordTimings(enqueuedAt: NIODeadline, sentAt: NIODeadline, receivedAt: NIODeadline) {
        guard sentAt.uptimeNanoseconds > 0 else { return }
        counters.queueWait.record(sentAt - enqueuedAt)
        counters.apnsLatency.record(receivedAt - sentAt)
    }

    /// One debug line per failed notification (nothing at info): the token as a short prefix only.
    func logFailure(_ result: APNsResult, token: String) {
        guard logger.logLevel <= .debug else { return }
        var metadata: Logger.Metadata = [
            "token": "\(APNsRedaction.token(token))", "source": "\(result.source.rawValue)",
            "reason": "\(result.reason ?? "")", "attempts": "\(result.attempts)",
        ]
        if let status = result.status { metadata["status"] = "\(status)" }
        if let apnsID = result.apnsID { metadata["apns_id"] = "\(apnsID)" }
        logger.debug("notification failed", metadata: metadata)
    }

    func recordFailure(_ error: HTTP2Error) {
        counters.attemptFailures.add(1, ordering: .relaxed)
    }

    func epochSeconds() -> Int64 { clock() }

    // MARK: Figures and shutdown

    /// A snapshot of the client's counters and its pool's state.
    public var statistics: APNsClientStatistics {
        counters.snapshot(
            pool: pool.statistics, outstanding: limiter.outstanding, outstandingBytes: limiter.outstandingBytes,
            tokenRefreshes: tokens?.refreshCount ?? 0)
    }

    /// Stops accepting (new notifications are answered with ``GatewayReason/shutdown``), gives everything
    /// outstanding — queued, in flight and waiting for a retry — up to `grace` to finish, then answers the rest
    /// with ``GatewayReason/shutdown`` and closes the connections.
    public func shutdown(grace: TimeAmount = .seconds(5)) async {
        closing.store(true, ordering: .relaxed)
        let limiter = self.limiter
        let timer = group.next().scheduleTask(in: grace) { limiter.stopWaitingForIdle() }
        await limiter.waitUntilIdle()
        timer.cancel()
        retiring.store(true, ordering: .relaxed)
        await pool.shutdown(grace: .zero)
        if let management = managementBox.withLockedValue({ $0 }) { await management.shutdown() }
        // Everything left is being answered now; wait for the last answers (bounded, in case of a bug).
        let last = group.next().scheduleTask(in: .seconds(2)) { limiter.stopWaitingForIdle() }
        await limiter.waitUntilIdle()
        last.cancel()
    }
}

/// Gathers a batch's results by index, from whatever threads they arrive on, and hands them over in input
/// order once the last one is in.
///
/// The first result for an index counts. A second one would be a bug (every notification gets exactly one
/// result): debug builds stop on it, release builds ignore it rather than take the process down.
public final class APNsResultCollector: Sendable {
    private let state: NIOLockedValueBox<(results: [APNsResult?], remaining: Int, waiter: CheckedContinuation<[APNsResult], Never>?)>

    /// A collector for `count` results.
    public init(count: Int) {
        state = NIOLockedValueBox((Array(repeating: nil, count: count), count, nil))
    }

    /// Stores the result of item `index`.
    public func set(_ index: Int, _ result: APNsResult) {
        let done = state.withLockedValue { state -> (CheckedContinuation<[APNsResult], Never>, [APNsResult])? in
            assert(state.results[index] == nil, "two results for one notification")
            guard state.results[index] == nil else { return nil }
            state.results[index] = result
            state.remaining -= 1
            guard state.remaining == 0, let waiter = state.waiter else { return nil }
            state.waiter = nil
            return (waiter, state.results.map { $0! })
        }
        if let (waiter, results) = done { waiter.resume(returning: results) }
    }

    /// Every result in input order, once all have arrived (at once if they have).
    public func wait() async -> [APNsResult] {
        await withCheckedContinuation { continuation in
            let results = state.withLockedValue { state -> [APNsResult]? in
                if state.remaining == 0 { return state.results.map { $0! } }
                state.waiter = continuation
                return nil
            }
            if let results { continuation.resume(returning: results) }
        }
    }
}
