import NIOCore
import XCTest

@testable import Intake

/// The credentials file, token hashing and comparison, scopes and the token bucket, without I/O.
final class IntakeCredentialsTests: XCTestCase {
    private let token = "test-only-token-abcdefghijklmnopqrstuvwxyz"

    func testAHashLineReadsBackAndMatchesOnlyItsToken() throws {
        let line = try IntakeCredentials.hashLine(
            name: "backend", scopes: [.stats, .send], rateLimit: IntakeRateLimit(perSecond: 100, burst: 500), token: token)
        XCTAssertTrue(line.hasPrefix("backend send,stats 100/500 sha256:"), line)
        XCTAssertFalse(line.contains(token), "the line holds the hash, never the token")
        let credentials = try IntakeCredentials(parsing: "# comment\n\n  \(line)  \r\n", source: "tokens")
        let principal = try XCTUnwrap(credentials.principal(forToken: token))
        XCTAssertEqual(principal.name, "backend")
        XCTAssertEqual(principal.scopes, [.send, .stats])
        XCTAssertEqual(principal.rateLimit, IntakeRateLimit(perSecond: 100, burst: 500))
        XCTAssertNil(credentials.principal(forToken: token + "x"))
        XCTAssertNil(credentials.principal(forToken: String(token.dropLast())))
        XCTAssertNil(credentials.principal(forToken: ""))
    }

    func testEachOfSeveralTokensFindsItsOwnPrincipal() throws {
        let tokens = (0..<5).map { "test-only-token-number-\($0)-0123456789" }
        let text = try tokens.enumerated().map { index, token in
            try IntakeCredentials.hashLine(name: "client\(index)", scopes: [.send], rateLimit: nil, token: token)
        }.joined(separator: "\n")
        let credentials = try IntakeCredentials(parsing: text, source: "tokens")
        for (index, token) in tokens.enumerated() {
            XCTAssertEqual(credentials.principal(forToken: token)?.name, "client\(index)")
        }
    }

    func testCertificateLinesMapCommonNames() throws {
        let credentials = try IntakeCredentials(parsing: "pusher send,activity unlimited cn:apns-gateway TEST-ONLY client\n", source: "f")
        XCTAssertTrue(credentials.hasCertificatePrincipals)
        XCTAssertEqual(credentials.principal(forCommonName: "apns-gateway TEST-ONLY client")?.scopes, [.send, .activity])
        XCTAssertNil(credentials.principal(forCommonName: "apns-gateway TEST-ONLY"))
        XCTAssertNil(credentials.principal(forCommonName: "apns-gateway TEST-ONLY client")?.rateLimit)
    }

    func testBadLinesNameTheirLineAndNeverShowTheCredential() throws {
        let hash = String(repeating: "ab", count: 32)
        let cases: [(String, String)] = [
            ("backend send 10", "line 1: expected NAME SCOPES RATE CREDENTIAL"),
            ("backend send 10 \(token)", "never store a raw token"),
            ("backend post 10 sha256:\(hash)", "unknown scope \"post\""),
            ("backend send fast sha256:\(hash)", "the rate must be"),
            ("backend send 0 sha256:\(hash)", "the rate must be"),
            ("backend send 10 sha256:abc", "64 hex digits"),
            ("back/end send 10 sha256:\(hash)", "the name must be"),
            ("a send 10 sha256:\(hash)\nb send 10 sha256:\(hash)", "line 2: the same token hash appears twice"),
            ("a send 10 sha256:\(hash)\n# x\na stats 1 cn:x", "line 3: the name \"a\" is used twice"),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try IntakeCredentials(parsing: text, source: "tokens.txt"), text) { error in
                let message = "\(error)"
                XCTAssertTrue(message.contains(expected), "\(message) lacks \(expected)")
                XCTAssertTrue(message.hasPrefix("tokens.txt line"), message)
                XCTAssertFalse(message.contains(token), "the credential in: \(message)")
            }
        }
    }

    func testHashLineRefusesWeakTokensAndNoScopes() {
        XCTAssertThrowsError(try IntakeCredentials.hashLine(name: "a", scopes: [.send], rateLimit: nil, token: "short"))
        XCTAssertThrowsError(try IntakeCredentials.hashLine(name: "a", scopes: [.send], rateLimit: nil, token: token + " x"))
        XCTAssertThrowsError(try IntakeCredentials.hashLine(name: "a", scopes: [], rateLimit: nil, token: token))
    }

    func testOpsNeedTheirScopes() {
        XCTAssertEqual(IntakeScope.required(forOp: "send"), .send)
        XCTAssertEqual(IntakeScope.required(forOp: "stats"), .stats)
        XCTAssertEqual(IntakeScope.required(forOp: "activity.update"), .activity)
        XCTAssertEqual(IntakeScope.required(forOp: "channel.create"), .channel)
        XCTAssertNil(IntakeScope.required(forOp: "ping"))
        let principal = IntakePrincipal(name: "p", scopes: [.send], rateLimit: nil)
        XCTAssertNil(principal.refusal(forOp: "send"))
        XCTAssertNil(principal.refusal(forOp: "ping"))
        XCTAssertEqual(principal.refusal(forOp: "activity.start")?.0, .forbidden)
        XCTAssertEqual(principal.refusal(forOp: "stats")?.0, .forbidden)
        XCTAssertEqual(principal.refusal(forOp: "auth")?.0, .badRequest, "a second auth line")
    }

    func testTheTokenBucketGrantsItsBurstThenItsRate() {
        let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
        var bucket = TokenBucket(limit: IntakeRateLimit(perSecond: 100, burst: 50), now: start)
        XCTAssertEqual(bucket.take(80, now: start), 50, "a full bucket grants its burst")
        XCTAssertEqual(bucket.take(1, now: start), 0)
        XCTAssertEqual(bucket.millisecondsToNextToken, 10)
        XCTAssertEqual(bucket.take(30, now: start + .milliseconds(100)), 10, "100 ms at 100/s: 10 more")
        XCTAssertEqual(bucket.take(100, now: start + .seconds(60)), 50, "never more than the burst")
        XCTAssertEqual(bucket.take(5, now: start + .seconds(59)), 0, "time going backwards adds nothing")
    }

    func testAPrincipalsLimitIsSharedAndUnlimitedGrantsAll() {
        let limited = IntakePrincipal(name: "p", scopes: [.send], rateLimit: IntakeRateLimit(perSecond: 1, burst: 3))
        let now = NIODeadline.now()
        XCTAssertEqual(limited.admit(2, now: now).granted, 2)
        let second = limited.admit(2, now: now)
        XCTAssertEqual(second.granted, 1)
        XCTAssertGreaterThan(second.retryAfterMilliseconds, 0)
        let unlimited = IntakePrincipal(name: "u", scopes: [.send], rateLimit: nil)
        XCTAssertEqual(unlimited.admit(1_000_000).granted, 1_000_000)
    }
}
