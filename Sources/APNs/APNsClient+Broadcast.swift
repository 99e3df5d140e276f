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
    private var attempts = APNsAttempts()

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
        if let authorization = attempts.authorization(from: client) {
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
        switch attempts.next(after: result, client: client, expiration: broadcast.expiration, deadline: deadline) {
        case .answered(let response, let http):
            finish(answer(response, http))
        case .gaveUp(let code, let detail, let answer):
            guard let (response, http) = answer else {
                return finish(.gateway(code, detail, attempts: attempts.count, uncertain: attempts.retriedAfterUnknownOutcome))
            }
            var result = self.answer(response, http)
            result.detail = detail
            finish(result)
        case .failed(let code, let detail, let count, let uncertain):
            finish(.gateway(code, detail, attempts: count, uncertain: uncertain))
        case .retry(let wait):
            client.retryBroadcast(self, after: wait)
        }
    }

    private func answer(_ response: APNsResponse, _ http: HTTP2Response) -> APNsBroadcastResult {
        APNsBroadcastResult(
            source: .apns, status: response.status, reason: response.reason?.rawValue,
            requestID: http.header("apns-request-id"),
            attempts: attempts.count, retriedAfterUnknownOutcome: attempts.retriedAfterUnknownOutcome)
    }

    private func finish(_ result: APNsBroadcastResult) {
        completion(result)
    }
}
