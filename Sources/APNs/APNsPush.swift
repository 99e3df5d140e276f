import APNsCore
import HTTP2Engine
import NIOCore

/// One notification on its way through the pool: the engine's exchange and the retry loop around it.
///
/// Ownership passes hand to hand (the client, the pool's queue, one connection's event loop, a retry timer),
/// so exactly one party touches the mutable fields at a time, and each hand-over goes through a lock or an
/// event-loop hop that orders memory. That is why the class is `@unchecked Sendable`.
final class APNsPush: HTTP2Exchange, @unchecked Sendable {
    let notification: APNsNotification
    let deadline: NIODeadline
    /// When the client accepted the notification.
    let acceptedAt: NIODeadline
    /// When the current attempt entered the pool's queue.
    var enqueuedAt: NIODeadline
    private let client: APNsClient
    private let completion: @Sendable (APNsResult) -> Void
    private var attempts = 0
    private var retriedAfterUnknownOutcome = false
    private var lastOutcomeUnknown = false
    /// The `authorization` value of the latest attempt, to know which token APNs rejected.
    private var authorizationSent: String?

    init(
        notification: APNsNotification, acceptedAt: NIODeadline, deadline: NIODeadline, client: APNsClient,
        completion: @escaping @Sendable (APNsResult) -> Void
    ) {
        self.notification = notification
        self.acceptedAt = acceptedAt
        self.enqueuedAt = acceptedAt
        self.deadline = deadline
        self.client = client
        self.completion = completion
    }

    var requestBody: ByteBuffer { notification.payload }

    func writeHeaders(into writer: inout HTTP2HeaderWriter) {
        writer.add(":method", "POST" as StaticString)
        writer.add(":scheme", "https" as StaticString)
        writer.add(":authority", client.authority)
        writer.add(":path", prefix: "/3/device/", notification.deviceToken)
        if let tokens = client.tokens {
            let authorization = tokens.authorization()
            authorizationSent = authorization
            writer.add("authorization", authorization)
        }
        writer.add("apns-push-type", notification.pushType.rawValue)
        writer.add("apns-topic", notification.topic)
        if let priority = notification.priority {
            writer.add("apns-priority", decimal: Int64(priority.rawValue))
        }
        if let expiration = notification.expiration {
            writer.add("apns-expiration", decimal: expiration)
        }
        if let collapseID = notification.collapseID {
            writer.add("apns-collapse-id", collapseID)
        }
        if let apnsID = notification.apnsID {
            writer.add("apns-id", apnsID.utf8.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) ? apnsID.lowercased() : apnsID)
        }
    }

    func complete(_ result: Result<HTTP2Response, HTTP2Error>) {
        attempts += 1
        let outcome: APNsAttemptOutcome
        var answeredAt: NIODeadline?
        /// Why this attempt failed, for a result that ends here without an answer.
        var failure: String?
        switch result {
        case .success(let response):
            // The response carries its times (the engine reads the clock per write and per read batch).
            client.recordTimings(enqueuedAt: enqueuedAt, sentAt: response.sentAt, receivedAt: response.receivedAt)
            answeredAt = response.receivedAt
            outcome = .response(APNsResponse.parse(
                status: response.status,
                apnsID: response.header("apns-id"),
                apnsUniqueID: response.header("apns-unique-id"),
                body: response.body
            ))
        case .failure(let error):
            switch error.kind {
            case .shutdown:
                return finish(.gateway(.shutdown, "the gateway shut down before APNs answered", attempts: attempts, uncertain: retriedAfterUnknownOutcome), .gateway(.shutdown))
            case .queueFull:
                return finish(.gateway(.overloaded, error.detail, attempts: attempts - 1), .gateway(.overloaded))
            case .connectFailed:
                return finish(.gateway(.connectFailed, error.detail, attempts: attempts - 1), .gateway(.connectFailed))
            case .deadlineExceeded:
                outcome = .deadlineExceeded
            case .notSent:
                outcome = .notSent
            case .connectionLost, .streamReset, .protocolError:
                outcome = .connectionLost
            }
            failure = error.detail
            client.recordFailure(error)
        }
        lastOutcomeUnknown = outcome == .connectionLost
        // The common case needs no policy, clock or random number (a system call on Linux).
        let decision: APNsRetryDecision
        if case .response(let response) = outcome, response.status == 200 {
            decision = .finish
        } else {
            decision = client.configuration.retry.decide(
                outcome,
                attempt: attempts,
                nowEpochSeconds: client.epochSeconds(),
                expiration: notification.expiration,
                random: Double.random(in: 0..<1)
            )
        }
        switch decision {
        case .finish:
            if case .response(let response) = outcome {
                finish(APNsResult(
                    source: .apns, status: response.status, reason: response.reason?.rawValue,
                    apnsID: response.apnsID, apnsUniqueID: response.apnsUniqueID, timestamp: response.timestamp,
                    attempts: attempts, retriedAfterUnknownOutcome: retriedAfterUnknownOutcome
                ), .apns(status: response.status, reason: response.reason), at: answeredAt)
            } else {
                finish(.gateway(.retriesExhausted, "no answer from APNs", attempts: attempts, uncertain: retriedAfterUnknownOutcome), .gateway(.retriesExhausted))
            }
        case .giveUp(let reason):
            let code: GatewayReason = outcome == .deadlineExceeded ? .deadlineExceeded : .retriesExhausted
            finish(.gateway(code, reason, attempts: attempts, uncertain: retriedAfterUnknownOutcome), .gateway(code), at: answeredAt)
        case .retry(let delay):
            if case .response(let response) = outcome, response.disposition == .refreshTokenAndRetry {
                guard let tokens = client.tokens, let sent = authorizationSent, tokens.tokenRejected(sent) else {
                    return finish(APNsResult(
                        source: .apns, status: response.status, reason: response.reason?.rawValue,
                        apnsID: response.apnsID, attempts: attempts, retriedAfterUnknownOutcome: retriedAfterUnknownOutcome
                    ), .apns(status: response.status, reason: response.reason), at: answeredAt)
                }
            }
            let wait = TimeAmount.nanoseconds(Int64(delay.components.seconds) * 1_000_000_000 + delay.components.attoseconds / 1_000_000_000)
            guard NIODeadline.now() + wait < deadline else {
                let detail = "the deadline passes before the next retry" + (failure.map { " (last attempt: \($0))" } ?? "")
                return finish(.gateway(.deadlineExceeded, detail, attempts: attempts, uncertain: retriedAfterUnknownOutcome), .gateway(.deadlineExceeded), at: answeredAt)
            }
            if lastOutcomeUnknown { retriedAfterUnknownOutcome = true }
            client.retry(self, after: wait)
        }
    }

    /// Hands over the final result. `at` is when it became known, if the caller has that time already (an
    /// APNs answer); otherwise the clock is read.
    private func finish(_ result: APNsResult, _ slot: APNsOutcomeCounters.Slot, at: NIODeadline? = nil) {
        client.finished(result, slot: slot, after: (at ?? .now()) - acceptedAt, bytes: APNsClient.outstandingBytes(notification))
        if result.status != 200 { client.logFailure(result, token: notification.deviceToken) }
        completion(result)
    }
}
