import APNsCore
import HTTP2Engine
import NIOCore

extension APNsClient {
    /// Publishes one broadcast on the client's push connections and returns its result.
    ///
    /// Local checks first (``APNsBroadcast``: a malformed broadcast never reaches APNs). Retries follow the
    /// client's retry policy as for notifications: 5xx, `TooManyRequests` and lost connections are retried
    /// within the attempts and the deadline (a resend after an unknown outcome is marked
    /// ``APNsBroadcastResult/retriedAfterUnknownOutcome``); `ExpiredProviderToken` gets a fresh token and one
    /// retry; every broadcast reason (`ChannelNotRegistered`, `BadChannelId`, ...) is final. Counts towards the
    /// bound on outstanding notifications.
    public func broadcast(_ broadcast: APNsBroadcast) async -> APNsBroadcastResult {
        let result: APNsBroadcastResult
        if closing.load(ordering: .relaxed) {
            result = .gateway(.shutdown, "the gateway is shutting down")
        } else {
            do {
                try broadcast.validate()
                let bytes = broadcast.payload.readableBytes + APNsClientConfiguration.estimatedBytesPerNotification
                await limiter.acquire(bytes: bytes)
                result = await withCheckedContinuation { continuation in
                    let now = NIODeadline.now()
                    let exchange = APNsBroadcastExchange(
                        broadcast: broadcast, deadline: now + configuration.requestTimeout, client: self
                    ) { continuation.resume(returning: $0) }
                    pool.execute(exchange)
                }
                limiter.release(bytes: bytes)
            } catch {
                result = error
            }
        }
        broadcastCounts.withLockedValue { $0[result.countLabel, default: 0] += 1 }
        if !result.isSuccess, logger.logLevel <= .debug {
            logger.debug("broadcast failed", metadata: [
                "channel": "\(broadcast.channelID.prefix(8))", "reason": "\(result.reason ?? "")",
                "source": "\(result.source.rawValue)", "attempts": "\(result.attempts)",
            ])
        }
        return result
    }

    /// Broadcast results since the client started, by ``APNsBroadcastResult/countLabel`` (`"200"` or the reason).
    public var broadcastStatistics: [String: Int] {
        broadcastCounts.withLockedValue { $0 }
    }

    func retryBroadcast(_ exchange: APNsBroadcastExchange, after delay: TimeAmount) {
        if retiring.load(ordering: .relaxed) {
            exchange.complete(.failure(.shutdown))
            return
        }
        let pool = self.pool
        if delay <= .zero {
            pool.execute(exchange, bypassingQueueLimit: true)
        } else {
            group.next().scheduleTask(in: delay) { pool.execute(exchange, bypassingQueueLimit: true) }
        }
    }
}

/// One broadcast on its way through the pool, with the retry loop around it. Ownership passes hand to hand as
/// for ``APNsPush``, hence `@unchecked Sendable`.
final class APNsBroadcastExchange: HTTP2Exchange, @unchecked Sendable {
    let broadcast: APNsBroadcast
    let deadline: NIODeadline
    private let client: APNsClient
    private let completion: @Sendable (APNsBroadcastResult) -> Void
    private var attempts = 0
    private var retriedAfterUnknownOutcome = false
    private var authorizationSent: String?

    init(broadcast: APNsBroadcast, deadline: NIODeadline, client: APNsClient, completion: @escaping @Sendable (APNsBroadcastResult) -> Void) {
        self.broadcast = broadcast
        self.deadline = deadline
        self.client = client
        self.completion = completion
    }

    var requestBody: ByteBuffer { broadcast.payload }

    func writeHeaders(into writer: inout HTTP2HeaderWriter) {
        writer.add(":method", "POST" as StaticString)
        writer.add(":scheme", "https" as StaticString)
        writer.add(":authority", client.authority)
        writer.add(":path", prefix: "/4/broadcasts/apps/", broadcast.bundleID)
        if let tokens = client.tokens {
            let authorization = tokens.authorization()
            authorizationSent = authorization
            writer.add("authorization", authorization)
        }
        writer.add("apns-push-type", "liveactivity" as StaticString)
        writer.add("apns-channel-id", broadcast.channelID)
        if let priority = broadcast.priority {
            writer.add("apns-priority", decimal: Int64(priority.rawValue))
        }
        if let expiration = broadcast.expiration {
            writer.add("apns-expiration", decimal: expiration)
        }
    }

    func complete(_ result: Result<HTTP2Response, HTTP2Error>) {
        attempts += 1
        let outcome: APNsAttemptOutcome
        var requestID: String?
        switch result {
        case .success(let response):
            requestID = response.header("apns-request-id")
            outcome = .response(APNsResponse.parse(status: response.status, apnsID: nil, apnsUniqueID: nil, body: response.body))
        case .failure(let error):
            switch error.kind {
            case .shutdown:
                return finish(.gateway(.shutdown, "the gateway shut down before APNs answered", attempts: attempts, uncertain: retriedAfterUnknownOutcome))
            case .queueFull:
                return finish(.gateway(.overloaded, error.detail, attempts: attempts - 1))
            case .connectFailed:
                return finish(.gateway(.connectFailed, error.detail, attempts: attempts - 1))
            case .deadlineExceeded:
                outcome = .deadlineExceeded
            case .notSent:
                outcome = .notSent
            case .connectionLost, .streamReset, .protocolError:
                outcome = .connectionLost
            }
            client.recordFailure(error)
        }
        let decision: APNsRetryDecision
        if case .response(let response) = outcome, response.status == 200 {
            decision = .finish
        } else {
            decision = client.configuration.retry.decide(
                outcome, attempt: attempts, nowEpochSeconds: client.epochSeconds(), expiration: broadcast.expiration,
                random: Double.random(in: 0..<1))
        }
        switch decision {
        case .finish:
            guard case .response(let response) = outcome else {
                return finish(.gateway(.retriesExhausted, "no answer from APNs", attempts: attempts, uncertain: retriedAfterUnknownOutcome))
            }
            finish(answer(response, requestID: requestID))
        case .giveUp(let reason):
            let code: GatewayReason = outcome == .deadlineExceeded ? .deadlineExceeded : .retriesExhausted
            if case .response(let response) = outcome {
                var result = answer(response, requestID: requestID)
                result.detail = reason
                return finish(result)
            }
            finish(.gateway(code, reason, attempts: attempts, uncertain: retriedAfterUnknownOutcome))
        case .retry(let delay):
            if case .response(let response) = outcome, response.disposition == .refreshTokenAndRetry {
                guard let tokens = client.tokens, let sent = authorizationSent, tokens.tokenRejected(sent) else {
                    return finish(answer(response, requestID: requestID))
                }
            }
            let wait = TimeAmount.nanoseconds(Int64(delay.components.seconds) * 1_000_000_000 + delay.components.attoseconds / 1_000_000_000)
            guard NIODeadline.now() + wait < deadline else {
                return finish(.gateway(.deadlineExceeded, "the deadline passes before the next retry", attempts: attempts, uncertain: retriedAfterUnknownOutcome))
            }
            if outcome == .connectionLost { retriedAfterUnknownOutcome = true }
            client.retryBroadcast(self, after: wait)
        }
    }

    private func answer(_ response: APNsResponse, requestID: String?) -> APNsBroadcastResult {
        APNsBroadcastResult(
            source: .apns, status: response.status, reason: response.reason?.rawValue, requestID: requestID,
            attempts: attempts, retriedAfterUnknownOutcome: retriedAfterUnknownOutcome)
    }

    private func finish(_ result: APNsBroadcastResult) {
        completion(result)
    }
}
