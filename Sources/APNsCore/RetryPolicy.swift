/// How one attempt to send a notification ended.
public enum APNsAttemptOutcome: Sendable, Hashable {
    /// APNs answered.
    case response(APNsResponse)
    /// The request was sent but the connection was lost before an answer: APNs may or may not have
    /// delivered it.
    case connectionLost
    /// The request never reached APNs (connection refused, stream refused or above a GOAWAY's last
    /// stream ID): resending it cannot deliver it twice.
    case notSent
    /// The request's own deadline passed.
    case deadlineExceeded
}

/// What to do after an attempt.
public enum APNsRetryDecision: Sendable, Hashable {
    /// Report the attempt's outcome (APNs's answer) as the final result.
    case finish
    /// Send again after the delay.
    case retry(after: Duration)
    /// Stop and report a gateway failure with this reason.
    case giveUp(reason: String)
}

/// The retry policy, as a pure value: it decides from one attempt's outcome, the attempt number,
/// the time and the notification's expiration; it holds no state, clock or randomness of its own.
public struct APNsRetryPolicy: Sendable, Hashable {
    /// The ``APNsRetryDecision/giveUp(reason:)`` reason when the deadline passed.
    public static let deadlineExceededReason = "deadline exceeded"
    /// The reason when the connection was lost on the last allowed attempt.
    public static let connectionLostReason = "retries exhausted after connection loss"
    /// The reason when the request could not be sent on the last allowed attempt.
    public static let notSentReason = "retries exhausted: the request could not be sent"
    /// The reason when the connection was lost and the notification's expiration (or `0`, deliver
    /// once) leaves no time for another attempt.
    public static let connectionLostExpiredReason = "connection lost and the notification expires before a retry"
    /// The reason when the request could not be sent and the notification expires before a retry.
    public static let notSentExpiredReason = "the request could not be sent and the notification expires before a retry"

    /// The most attempts per notification, the first included (at least 1).
    public var maxAttempts: Int
    /// The default of ``maxAttempts``.
    public static let defaultMaxAttempts = 3
    /// The values of ``maxAttempts`` worth configuring (a configuration file is held to them).
    public static let maxAttemptsRange = 1...20
    /// The back-off before the second attempt; it doubles with each further attempt.
    public var initialBackoff: Duration
    /// The longest back-off.
    public var maxBackoff: Duration
    /// The fraction of each back-off that is randomised, 0...1: the delay is drawn from
    /// `[base × (1 − jitter), base)`. 1 is "full jitter", 0 none.
    public var jitter: Double

    /// Creates a policy. Out-of-range values are clamped: `maxAttempts` to at least 1, negative
    /// durations to zero, `maxBackoff` to at least `initialBackoff`, `jitter` to 0...1.
    public init(
        maxAttempts: Int = APNsRetryPolicy.defaultMaxAttempts,
        initialBackoff: Duration = .milliseconds(100),
        maxBackoff: Duration = .seconds(5),
        jitter: Double = 0.2
    ) {
        self.maxAttempts = max(1, maxAttempts)
        self.initialBackoff = max(.zero, initialBackoff)
        self.maxBackoff = max(self.initialBackoff, maxBackoff)
        self.jitter = jitter.isNaN ? 0 : min(1, max(0, jitter))
    }

    /// The jittered exponential back-off after `attempt` (1-based) failed attempts:
    /// `initialBackoff × 2^(attempt − 1)`, capped at `maxBackoff`, then reduced by up to
    /// `jitter × 100` % using `random` (0..<1; out-of-range values are clamped).
    ///
    /// Used for retries and, by the connection pool, for reconnects.
    public func backoff(attempt: Int, random: Double) -> Duration {
        let initial = max(.zero, self.initialBackoff)
        let cap = max(initial, self.maxBackoff)
        let exponent = max(0, attempt - 1)
        var base = cap
        if exponent < 62 {
            let factor = Int64(1) << Int64(exponent)
            let (initialNanoseconds, overflow) = nanoseconds(initial).multipliedReportingOverflow(by: factor)
            if !overflow && initialNanoseconds < nanoseconds(cap) {
                base = .nanoseconds(initialNanoseconds)
            }
        }
        let jitter = self.jitter.isNaN ? 0 : min(1, max(0, self.jitter))
        let unit = random.isNaN ? 0 : min(max(random, 0), 1)
        let scale = 1 - jitter * (1 - unit)
        return .nanoseconds(Int64((Double(nanoseconds(base)) * scale).rounded(.down)))
    }

    /// Decides what follows the attempt that just ended.
    ///
    /// - Parameters:
    ///   - outcome: how the attempt ended.
    ///   - attempt: that attempt's number, 1-based.
    ///   - nowEpochSeconds: the current time.
    ///   - expiration: the notification's `apns-expiration` (`nil`: none; `0`: deliver once).
    ///   - random: a value in 0..<1 for the jitter.
    ///
    /// Rules:
    /// - `deadlineExceeded`: give up with ``deadlineExceededReason``.
    /// - success and permanent failures: finish.
    /// - retryable answers (5xx, 429), `connectionLost` and `notSent`: retry after
    ///   ``backoff(attempt:random:)`` while `attempt < maxAttempts` and the retry would start no
    ///   later than `expiration`; with expiration `0` only `notSent` is retried. Otherwise an APNs
    ///   answer finishes (it is the result); `connectionLost` and `notSent` give up with their reasons.
    /// - `ExpiredProviderToken`: retry at once (`.zero`) if `attempt < maxAttempts` and the
    ///   notification has not expired, else finish. Asking for a new token before that retry is the
    ///   caller's job (``APNsProviderTokenCache/tokenRejected(_:)``, whose 20-minute guard stops a
    ///   second refresh in a row).
    public func decide(
        _ outcome: APNsAttemptOutcome,
        attempt: Int,
        nowEpochSeconds: Int64,
        expiration: Int64?,
        random: Double
    ) -> APNsRetryDecision {
        let attemptsLeft = attempt < max(1, self.maxAttempts)
        switch outcome {
        case .deadlineExceeded:
            return .giveUp(reason: Self.deadlineExceededReason)

        case .response(let response):
            switch response.disposition {
            case .success, .permanentFailure:
                return .finish
            case .refreshTokenAndRetry:
                // Nothing was delivered, so expiration 0's single attempt is still unused.
                let deadline = expiration == 0 ? nil : expiration
                guard attemptsLeft, Self.startsInTime(after: .zero, now: nowEpochSeconds, expiration: deadline) else {
                    return .finish
                }
                return .retry(after: .zero)
            case .retryable, .reconnectAndRetry:
                guard attemptsLeft, expiration != 0 else { return .finish }
                let delay = self.backoff(attempt: attempt, random: random)
                guard Self.startsInTime(after: delay, now: nowEpochSeconds, expiration: expiration) else {
                    return .finish
                }
                return .retry(after: delay)
            }

        case .connectionLost:
            guard attemptsLeft else { return .giveUp(reason: Self.connectionLostReason) }
            guard expiration != 0 else { return .giveUp(reason: Self.connectionLostExpiredReason) }
            let delay = self.backoff(attempt: attempt, random: random)
            guard Self.startsInTime(after: delay, now: nowEpochSeconds, expiration: expiration) else {
                return .giveUp(reason: Self.connectionLostExpiredReason)
            }
            return .retry(after: delay)

        case .notSent:
            guard attemptsLeft else { return .giveUp(reason: Self.notSentReason) }
            let delay = self.backoff(attempt: attempt, random: random)
            // Expiration 0 means "one attempt at APNs": a request that never reached APNs has not
            // used it, so it may go again.
            let deadline = expiration == 0 ? nil : expiration
            guard Self.startsInTime(after: delay, now: nowEpochSeconds, expiration: deadline) else {
                return .giveUp(reason: Self.notSentExpiredReason)
            }
            return .retry(after: delay)
        }
    }

    /// Whether an attempt starting `delay` from `now` starts no later than `expiration` (epoch
    /// seconds; `nil` = no bound).
    private static func startsInTime(after delay: Duration, now: Int64, expiration: Int64?) -> Bool {
        guard let expiration else { return true }
        guard expiration >= now else { return false }
        let (remaining, overflow) = expiration.subtractingReportingOverflow(now)
        return overflow || delay <= .seconds(remaining)
    }
}

/// A duration in whole nanoseconds, saturating at `Int64.max`.
private func nanoseconds(_ duration: Duration) -> Int64 {
    let (seconds, attoseconds) = duration.components
    let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
    if overflow {
        return seconds < 0 ? Int64.min : Int64.max
    }
    let (sum, overflow2) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000)
    return overflow2 ? Int64.max : sum
}
