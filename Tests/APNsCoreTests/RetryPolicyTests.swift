import APNsCore
import XCTest

final class RetryPolicyTests: XCTestCase {
    static let now: Int64 = 1_700_000_000
    let noJitter = APNsRetryPolicy(maxAttempts: 10, initialBackoff: .milliseconds(100), maxBackoff: .seconds(5), jitter: 0)

    private func response(_ status: Int, _ reason: APNsReason? = nil) -> APNsAttemptOutcome {
        .response(APNsResponse(status: status, reason: reason))
    }

    func testDefaults() {
        let policy = APNsRetryPolicy()
        XCTAssertEqual(policy.maxAttempts, 3)
        XCTAssertEqual(policy.initialBackoff, .milliseconds(100))
        XCTAssertEqual(policy.maxBackoff, .seconds(5))
        XCTAssertEqual(policy.jitter, 0.2)
    }

    func testBackoffGrowsAndCaps() {
        let expected: [Duration] = [
            .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .milliseconds(1600),
            .milliseconds(3200), .seconds(5), .seconds(5),
        ]
        for (index, delay) in expected.enumerated() {
            XCTAssertEqual(noJitter.backoff(attempt: index + 1, random: 0.5), delay, "attempt \(index + 1)")
        }
        XCTAssertEqual(noJitter.backoff(attempt: 1000, random: 0), .seconds(5))
        XCTAssertEqual(noJitter.backoff(attempt: .max, random: 0), .seconds(5))
        XCTAssertEqual(noJitter.backoff(attempt: 0, random: 0), .milliseconds(100))
        XCTAssertEqual(noJitter.backoff(attempt: -3, random: 0), .milliseconds(100))
    }

    func testJitter() {
        let policy = APNsRetryPolicy(initialBackoff: .seconds(1), maxBackoff: .seconds(5), jitter: 0.2)
        // random 0 takes the whole jitter fraction off; random → 1 takes nothing off.
        XCTAssertEqual(policy.backoff(attempt: 1, random: 0), .milliseconds(800))
        XCTAssertEqual(policy.backoff(attempt: 1, random: 0.5), .milliseconds(900))
        XCTAssertEqual(policy.backoff(attempt: 2, random: 0), .milliseconds(1600))
        XCTAssertEqual(policy.backoff(attempt: 10, random: 0), .seconds(4))
        let almostOne = policy.backoff(attempt: 1, random: 0.999_999)
        XCTAssertLessThanOrEqual(almostOne, .seconds(1))
        XCTAssertGreaterThan(almostOne, .milliseconds(999))
        // Out-of-range random values are clamped.
        XCTAssertEqual(policy.backoff(attempt: 1, random: -5), .milliseconds(800))
        XCTAssertEqual(policy.backoff(attempt: 1, random: .nan), .milliseconds(800))
        XCTAssertEqual(policy.backoff(attempt: 1, random: 7), .seconds(1))

        let full = APNsRetryPolicy(initialBackoff: .seconds(1), maxBackoff: .seconds(5), jitter: 1)
        XCTAssertEqual(full.backoff(attempt: 1, random: 0), .zero)
        XCTAssertEqual(full.backoff(attempt: 1, random: 0.25), .milliseconds(250))
    }

    func testInitClamps() {
        let policy = APNsRetryPolicy(maxAttempts: 0, initialBackoff: .seconds(-1), maxBackoff: .seconds(-2), jitter: 3)
        XCTAssertEqual(policy.maxAttempts, 1)
        XCTAssertEqual(policy.initialBackoff, .zero)
        XCTAssertEqual(policy.maxBackoff, .zero)
        XCTAssertEqual(policy.jitter, 1)
        XCTAssertEqual(APNsRetryPolicy(initialBackoff: .seconds(10), maxBackoff: .seconds(1)).maxBackoff, .seconds(10))
    }

    func testSuccessAndPermanentFailuresFinish() {
        for outcome in [response(200), response(400, .badDeviceToken), response(410, .unregistered),
                        response(403, .unrelatedKeyIdInToken), response(413, .payloadTooLarge), response(404)] {
            XCTAssertEqual(noJitter.decide(outcome, attempt: 1, nowEpochSeconds: Self.now, expiration: nil, random: 0),
                           .finish, "\(outcome)")
        }
    }

    func testRetryableAnswersBackOff() {
        for outcome in [response(500, .internalServerError), response(503, .serviceUnavailable), response(503, .shutdown),
                        response(429, .tooManyRequests), response(429, .tooManyProviderTokenUpdates), response(502)] {
            XCTAssertEqual(noJitter.decide(outcome, attempt: 1, nowEpochSeconds: Self.now, expiration: nil, random: 0),
                           .retry(after: .milliseconds(100)), "\(outcome)")
            XCTAssertEqual(noJitter.decide(outcome, attempt: 3, nowEpochSeconds: Self.now, expiration: nil, random: 0),
                           .retry(after: .milliseconds(400)), "\(outcome)")
        }
    }

    func testMaxAttempts() {
        let policy = APNsRetryPolicy(maxAttempts: 3, jitter: 0)
        let outcome = response(503, .serviceUnavailable)
        XCTAssertEqual(policy.decide(outcome, attempt: 1, nowEpochSeconds: Self.now, expiration: nil, random: 0),
                       .retry(after: .milliseconds(100)))
        XCTAssertEqual(policy.decide(outcome, attempt: 2, nowEpochSeconds: Self.now, expiration: nil, random: 0),
                       .retry(after: .milliseconds(200)))
        // The last answer is the result.
        XCTAssertEqual(policy.decide(outcome, attempt: 3, nowEpochSeconds: Self.now, expiration: nil, random: 0), .finish)
        XCTAssertEqual(policy.decide(.connectionLost, attempt: 3, nowEpochSeconds: Self.now, expiration: nil, random: 0),
                       .giveUp(reason: "retries exhausted after connection loss"))
        XCTAssertEqual(policy.decide(.notSent, attempt: 3, nowEpochSeconds: Self.now, expiration: nil, random: 0),
                       .giveUp(reason: APNsRetryPolicy.notSentReason))
        let single = APNsRetryPolicy(maxAttempts: 1)
        XCTAssertEqual(single.decide(outcome, attempt: 1, nowEpochSeconds: Self.now, expiration: nil, random: 0), .finish)
    }

    func testConnectionLostAndNotSentRetry() {
        XCTAssertEqual(noJitter.decide(.connectionLost, attempt: 1, nowEpochSeconds: Self.now, expiration: nil, random: 0),
                       .retry(after: .milliseconds(100)))
        XCTAssertEqual(noJitter.decide(.notSent, attempt: 2, nowEpochSeconds: Self.now, expiration: nil, random: 0),
                       .retry(after: .milliseconds(200)))
    }

    func testDeadlineExceeded() {
        XCTAssertEqual(noJitter.decide(.deadlineExceeded, attempt: 1, nowEpochSeconds: Self.now, expiration: nil, random: 0),
                       .giveUp(reason: "deadline exceeded"))
    }

    func testExpirationBoundsRetries() {
        let policy = APNsRetryPolicy(maxAttempts: 10, initialBackoff: .seconds(2), maxBackoff: .seconds(60), jitter: 0)
        let outcome = response(503, .serviceUnavailable)
        // 2 s back-off: starts exactly at the expiration second: allowed.
        XCTAssertEqual(policy.decide(outcome, attempt: 1, nowEpochSeconds: Self.now, expiration: Self.now + 2, random: 0),
                       .retry(after: .seconds(2)))
        // Would start after expiration: the answer stands.
        XCTAssertEqual(policy.decide(outcome, attempt: 1, nowEpochSeconds: Self.now, expiration: Self.now + 1, random: 0),
                       .finish)
        XCTAssertEqual(policy.decide(outcome, attempt: 3, nowEpochSeconds: Self.now, expiration: Self.now + 7, random: 0),
                       .finish)  // 8 s back-off
        // Already expired.
        XCTAssertEqual(policy.decide(.notSent, attempt: 1, nowEpochSeconds: Self.now, expiration: Self.now - 1, random: 0),
                       .giveUp(reason: APNsRetryPolicy.notSentExpiredReason))
        XCTAssertEqual(
            policy.decide(.connectionLost, attempt: 1, nowEpochSeconds: Self.now, expiration: Self.now + 1, random: 0),
            .giveUp(reason: APNsRetryPolicy.connectionLostExpiredReason))
        XCTAssertEqual(
            policy.decide(.connectionLost, attempt: 1, nowEpochSeconds: Self.now, expiration: .max, random: 0),
            .retry(after: .seconds(2)))
    }

    func testExpirationZeroMeansOneAttemptAtAPNs() {
        for outcome in [response(500, .internalServerError), response(503, .serviceUnavailable), response(503),
                        response(429, .tooManyRequests)] {
            XCTAssertEqual(noJitter.decide(outcome, attempt: 1, nowEpochSeconds: Self.now, expiration: 0, random: 0),
                           .finish, "\(outcome)")
        }
        XCTAssertEqual(noJitter.decide(.connectionLost, attempt: 1, nowEpochSeconds: Self.now, expiration: 0, random: 0),
                       .giveUp(reason: APNsRetryPolicy.connectionLostExpiredReason))
        // Never reached APNs: the one attempt is still unused.
        XCTAssertEqual(noJitter.decide(.notSent, attempt: 1, nowEpochSeconds: Self.now, expiration: 0, random: 0),
                       .retry(after: .milliseconds(100)))
        // A rejected token did not deliver anything either.
        XCTAssertEqual(
            noJitter.decide(response(403, .expiredProviderToken), attempt: 1, nowEpochSeconds: Self.now, expiration: 0,
                            random: 0),
            .retry(after: .zero))
    }

    func testTokenRefreshRetriesImmediatelyWhileAttemptsRemain() {
        let policy = APNsRetryPolicy(maxAttempts: 2, jitter: 0.5)
        let outcome = response(403, .expiredProviderToken)
        XCTAssertEqual(policy.decide(outcome, attempt: 1, nowEpochSeconds: Self.now, expiration: nil, random: 0.3),
                       .retry(after: .zero))
        XCTAssertEqual(policy.decide(outcome, attempt: 2, nowEpochSeconds: Self.now, expiration: nil, random: 0.3),
                       .finish)
        XCTAssertEqual(policy.decide(outcome, attempt: 1, nowEpochSeconds: Self.now, expiration: Self.now - 1, random: 0),
                       .finish)
        XCTAssertEqual(policy.decide(outcome, attempt: 1, nowEpochSeconds: Self.now, expiration: Self.now, random: 0),
                       .retry(after: .zero))
    }

    func testJitterIsAppliedToDecisions() {
        let policy = APNsRetryPolicy(maxAttempts: 5, initialBackoff: .seconds(1), maxBackoff: .seconds(10), jitter: 0.5)
        XCTAssertEqual(policy.decide(.connectionLost, attempt: 2, nowEpochSeconds: Self.now, expiration: nil, random: 0),
                       .retry(after: .seconds(1)))
        XCTAssertEqual(policy.decide(.connectionLost, attempt: 2, nowEpochSeconds: Self.now, expiration: nil, random: 0.5),
                       .retry(after: .milliseconds(1500)))
    }
}
