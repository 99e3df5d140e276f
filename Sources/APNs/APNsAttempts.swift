import APNsCore
import HTTP2Engine
import NIOCore

/// The retry loop shared by every request the client sends through the pool (notifications and broadcasts):
/// it counts attempts, remembers whether a resend followed an unknown outcome and which provider token the
/// latest attempt carried, and turns each attempt's result into the next step under the client's retry policy.
///
/// Owned by one exchange and touched by one party at a time, as the exchange itself.
struct APNsAttempts {
    /// Attempts completed so far.
    private(set) var count = 0
    /// A resend followed an attempt whose outcome was unknown: APNs may have delivered the request twice.
    private(set) var retriedAfterUnknownOutcome = false
    /// The `authorization` value of the latest attempt, to know which token APNs rejected.
    private var authorizationSent: String?

    /// What the exchange does after an attempt.
    enum Step {
        /// APNs gave the final answer (success, or a reason that is not retried).
        case answered(APNsResponse, HTTP2Response)
        /// The policy gave up on an answer that may be retried in general (5xx, `TooManyRequests`...): `detail`
        /// says why; the exchange reports the answer or a gateway reason.
        case gaveUp(GatewayReason, detail: String, answer: (APNsResponse, HTTP2Response)?)
        /// The request ends without an APNs answer, for the gateway's reason; `attempts` and `uncertain` are
        /// what the result reports.
        case failed(GatewayReason, detail: String, attempts: Int, uncertain: Bool)
        /// Send again after the delay (the exchange hands itself back to the client).
        case retry(after: TimeAmount)
    }

    /// The provider token for the next attempt, if the client signs with tokens.
    mutating func authorization(from client: APNsClient) -> String? {
        authorizationSent = client.tokens?.authorization()
        return authorizationSent
    }

    /// Judges one attempt's result.
    mutating func next(
        after result: Result<HTTP2Response, HTTP2Error>, client: APNsClient, expiration: Int64?, deadline: NIODeadline
    ) -> Step {
        count += 1
        let outcome: APNsAttemptOutcome
        var answer: (APNsResponse, HTTP2Response)?
        /// Why this attempt failed, for a result that ends without an answer.
        var failure: String?
        switch result {
        case .success(let response):
            var apnsID: APNsIdentifier?
            var apnsUniqueID: APNsIdentifier?
            response.withHeader("apns-id") { apnsID = APNsIdentifier(decoding: $0) }
            response.withHeader("apns-unique-id") { apnsUniqueID = APNsIdentifier(decoding: $0) }
            let parsed = APNsResponse.parse(
                status: response.status, apnsIdentifier: apnsID, apnsUniqueIdentifier: apnsUniqueID, body: response.body)
            // The common case needs no policy, clock or random number (a system call on Linux).
            if parsed.status == 200 { return .answered(parsed, response) }
            outcome = .response(parsed)
            answer = (parsed, response)
        case .failure(let error):
            switch error.kind {
            case .shutdown:
                return .failed(.shutdown, detail: "the gateway shut down before APNs answered", attempts: count, uncertain: retriedAfterUnknownOutcome)
            case .queueFull:
                return .failed(.overloaded, detail: error.detail, attempts: count - 1, uncertain: false)
            case .connectFailed:
                return .failed(.connectFailed, detail: error.detail, attempts: count - 1, uncertain: false)
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
        let decision = client.configuration.retry.decide(
            outcome, attempt: count, nowEpochSeconds: client.epochSeconds(), expiration: expiration,
            random: Double.random(in: 0..<1))
        switch decision {
        case .finish:
            guard let answer else {
                return .failed(.retriesExhausted, detail: "no answer from APNs", attempts: count, uncertain: retriedAfterUnknownOutcome)
            }
            return .answered(answer.0, answer.1)
        case .giveUp(let reason):
            let code: GatewayReason = outcome == .deadlineExceeded ? .deadlineExceeded : .retriesExhausted
            return .gaveUp(code, detail: reason, answer: answer)
        case .retry(let delay):
            if let answer, answer.0.disposition == .refreshTokenAndRetry {
                // Retry only with a newer token than the rejected one (the cache decides; see tokenRejected).
                guard let tokens = client.tokens, let sent = authorizationSent, tokens.tokenRejected(sent) else {
                    return .answered(answer.0, answer.1)
                }
            }
            let wait = TimeAmount.nanoseconds(
                Int64(delay.components.seconds) * 1_000_000_000 + delay.components.attoseconds / 1_000_000_000)
            guard NIODeadline.now() + wait < deadline else {
                let detail = "the deadline passes before the next retry" + (failure.map { " (last attempt: \($0))" } ?? "")
                return .failed(.deadlineExceeded, detail: detail, attempts: count, uncertain: retriedAfterUnknownOutcome)
            }
            if outcome == .connectionLost { retriedAfterUnknownOutcome = true }
            return .retry(after: wait)
        }
    }
}
