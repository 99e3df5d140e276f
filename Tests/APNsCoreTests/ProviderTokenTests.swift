import APNsCore
import Crypto
import Foundation
import NIOConcurrencyHelpers
import XCTest

/// A clock the test moves by hand.
final class TestClock: Sendable {
    private let now: NIOLockedValueBox<Int64>

    init(_ start: Int64) {
        self.now = NIOLockedValueBox(start)
    }

    var value: Int64 { self.now.withLockedValue { $0 } }

    func advance(seconds: Int64) {
        self.now.withLockedValue { $0 += seconds }
    }

    var function: @Sendable () -> Int64 {
        { self.value }
    }
}

final class ProviderTokenTests: XCTestCase {
    static let keyID = "TESTKEY123"
    static let teamID = "TEAM123456"
    static let start: Int64 = 1_700_000_000

    private func loadKey() throws -> APNsSigningKey {
        try APNsSigningKey(contentsOfFile: certificatePath("AuthKey_TESTKEY123.p8"))
    }

    private func publicKey() throws -> P256.Signing.PublicKey {
        let pem = try String(contentsOfFile: certificatePath("AuthKey_TESTKEY123.pub.pem"), encoding: .utf8)
        return try P256.Signing.PublicKey(pemRepresentation: pem)
    }

    private func makeCache(
        clock: TestClock, interval: Duration = .seconds(50 * 60)
    ) throws -> APNsProviderTokenCache {
        try APNsProviderTokenCache(
            key: loadKey(), keyID: Self.keyID, teamID: Self.teamID, refreshInterval: interval, clock: clock.function)
    }

    private struct DecodedToken {
        var header: [String: Any]
        var claims: [String: Any]
        var signature: Data
        var signingInput: String
    }

    private func decode(_ jwt: String) throws -> DecodedToken {
        let parts = jwt.split(separator: ".", omittingEmptySubsequences: false)
        XCTAssertEqual(parts.count, 3)
        for part in parts {
            XCTAssertFalse(part.contains("="), "padding in \(part)")
            XCTAssertFalse(part.contains("+") || part.contains("/"), "not base64url: \(part)")
        }
        let header = try XCTUnwrap(base64URLDecode(parts[0]))
        let claims = try XCTUnwrap(base64URLDecode(parts[1]))
        let signature = try XCTUnwrap(base64URLDecode(parts[2]))
        return DecodedToken(
            header: try XCTUnwrap(JSONSerialization.jsonObject(with: header) as? [String: Any]),
            claims: try XCTUnwrap(JSONSerialization.jsonObject(with: claims) as? [String: Any]),
            signature: signature,
            signingInput: parts[0] + "." + parts[1])
    }

    func testTokenVerifiesWithThePublicKey() throws {
        let clock = TestClock(Self.start)
        let cache = try makeCache(clock: clock)
        let authorization = cache.authorization()
        XCTAssertTrue(authorization.hasPrefix("bearer "))
        let token = try decode(String(authorization.dropFirst("bearer ".count)))

        XCTAssertEqual(token.header["alg"] as? String, "ES256")
        XCTAssertEqual(token.header["kid"] as? String, Self.keyID)
        XCTAssertEqual(token.header.count, 2)
        XCTAssertEqual(token.claims["iss"] as? String, Self.teamID)
        XCTAssertEqual((token.claims["iat"] as? NSNumber)?.int64Value, Self.start)
        XCTAssertEqual(token.claims.count, 2)

        XCTAssertEqual(token.signature.count, 64, "raw R||S, not DER")
        let signature = try P256.Signing.ECDSASignature(rawRepresentation: token.signature)
        XCTAssertTrue(try publicKey().isValidSignature(signature, for: Data(token.signingInput.utf8)))
        // And not for anything else.
        XCTAssertFalse(try publicKey().isValidSignature(signature, for: Data((token.signingInput + "x").utf8)))
    }

    func testPublicKeyPEMMatchesTheFile() throws {
        let key = try loadKey()
        XCTAssertEqual(try P256.Signing.PublicKey(pemRepresentation: key.publicKeyPEM).rawRepresentation,
                       try publicKey().rawRepresentation)
    }

    func testMakeProviderTokenDirectly() throws {
        let jwt = try loadKey().makeProviderToken(keyID: Self.keyID, teamID: Self.teamID, issuedAt: 42)
        let token = try decode(jwt)
        XCTAssertEqual((token.claims["iat"] as? NSNumber)?.int64Value, 42)
        let signature = try P256.Signing.ECDSASignature(rawRepresentation: token.signature)
        XCTAssertTrue(try publicKey().isValidSignature(signature, for: Data(token.signingInput.utf8)))
    }

    func testRotationSignsWithTheNewKeyAtOnceAndTheOldTokenCountsAsReplaced() throws {
        let clock = TestClock(Self.start)
        let cache = try makeCache(clock: clock)
        let old = cache.authorization()
        let newKey = P256.Signing.PrivateKey()
        clock.advance(seconds: 60)
        try cache.rotate(key: APNsSigningKey(pkcs8PEM: newKey.pemRepresentation), keyID: "NEWKEY4567", teamID: Self.teamID)

        let rotated = cache.authorization()
        XCTAssertNotEqual(rotated, old)
        XCTAssertEqual(cache.keyID, "NEWKEY4567")
        XCTAssertEqual(cache.refreshCount, 2)
        let token = try decode(String(rotated.dropFirst(7)))
        XCTAssertEqual(token.header["kid"] as? String, "NEWKEY4567")
        XCTAssertEqual((token.claims["iat"] as? NSNumber)?.int64Value, Self.start + 60)
        let signature = try P256.Signing.ECDSASignature(rawRepresentation: token.signature)
        XCTAssertTrue(newKey.publicKey.isValidSignature(signature, for: Data(token.signingInput.utf8)))
        XCTAssertFalse(try publicKey().isValidSignature(signature, for: Data(token.signingInput.utf8)))
        XCTAssertTrue(cache.tokenRejected(old), "a request that carried the old token retries with the new one")
        XCTAssertEqual(cache.refreshCount, 2, "without signing again")

        try cache.rotate(key: APNsSigningKey(pkcs8PEM: newKey.pemRepresentation), keyID: "NEWKEY4567", teamID: Self.teamID)
        XCTAssertEqual(cache.authorization(), rotated, "rotating to the same key changes nothing")
        XCTAssertThrowsError(try cache.rotate(key: loadKey(), keyID: "short", teamID: Self.teamID))
        XCTAssertEqual(cache.authorization(), rotated, "a refused rotation keeps the current key")
    }

    func testCachedUntilRefreshInterval() throws {
        let clock = TestClock(Self.start)
        let cache = try makeCache(clock: clock, interval: .seconds(40 * 60))
        let first = cache.authorization()
        XCTAssertEqual(cache.refreshCount, 1)
        XCTAssertEqual(cache.issuedAt, Self.start)

        clock.advance(seconds: 40 * 60 - 1)
        XCTAssertEqual(cache.authorization(), first)
        XCTAssertEqual(cache.authorization(), first)
        XCTAssertEqual(cache.refreshCount, 1)

        clock.advance(seconds: 1)
        let second = cache.authorization()
        XCTAssertNotEqual(second, first)
        XCTAssertEqual(cache.refreshCount, 2)
        XCTAssertEqual(cache.issuedAt, Self.start + 40 * 60)
        let claims = try decode(String(second.dropFirst(7))).claims
        XCTAssertEqual((claims["iat"] as? NSNumber)?.int64Value, Self.start + 40 * 60)
        XCTAssertEqual(cache.authorization(), second)
        XCTAssertEqual(cache.refreshCount, 2)
    }

    func testDefaultIntervalIsFiftyMinutes() throws {
        let clock = TestClock(Self.start)
        let cache = try APNsProviderTokenCache(
            key: loadKey(), keyID: Self.keyID, teamID: Self.teamID, clock: clock.function)
        XCTAssertEqual(cache.refreshInterval, .seconds(3000))
        let first = cache.authorization()
        clock.advance(seconds: 2999)
        XCTAssertEqual(cache.authorization(), first)
        clock.advance(seconds: 1)
        XCTAssertNotEqual(cache.authorization(), first)
    }

    func testTokenRejectedRespectsTheTwentyMinuteGuard() throws {
        let clock = TestClock(Self.start)
        let cache = try makeCache(clock: clock)
        let first = cache.authorization()

        clock.advance(seconds: 20 * 60 - 1)
        XCTAssertFalse(cache.tokenRejected(first))
        XCTAssertEqual(cache.authorization(), first)
        XCTAssertEqual(cache.refreshCount, 1)

        clock.advance(seconds: 1)
        XCTAssertTrue(cache.tokenRejected(first))
        let second = cache.authorization()
        XCTAssertNotEqual(second, first)
        XCTAssertEqual(cache.refreshCount, 2)

        // Another request that carried the old token: a newer one exists, retry without signing.
        XCTAssertTrue(cache.tokenRejected(first))
        XCTAssertEqual(cache.refreshCount, 2)
        // The fresh token rejected at once: the guard refuses.
        XCTAssertFalse(cache.tokenRejected(second))
        // The bare JWT is recognised too.
        XCTAssertFalse(cache.tokenRejected(String(second.dropFirst(7))))
        XCTAssertEqual(cache.refreshCount, 2)
        XCTAssertEqual(cache.authorization(), second)
    }

    func testTokenRejectedWhenTheClockWentBack() throws {
        let clock = TestClock(Self.start)
        let cache = try makeCache(clock: clock)
        let first = cache.authorization()
        clock.advance(seconds: -3600)
        XCTAssertTrue(cache.tokenRejected(first))
        XCTAssertEqual(cache.refreshCount, 2)
    }

    func testRefreshIntervalBounds() throws {
        let key = try loadKey()
        for interval: Duration in [.seconds(20 * 60), .seconds(55 * 60), .seconds(40 * 60)] {
            XCTAssertNoThrow(try APNsProviderTokenCache(
                key: key, keyID: Self.keyID, teamID: Self.teamID, refreshInterval: interval, clock: { 0 }))
        }
        for interval: Duration in [.seconds(20 * 60 - 1), .seconds(55 * 60) + .milliseconds(1), .seconds(60 * 60), .zero,
                                   .seconds(-1)] {
            XCTAssertThrowsError(try APNsProviderTokenCache(
                key: key, keyID: Self.keyID, teamID: Self.teamID, refreshInterval: interval, clock: { 0 })
            ) { error in
                XCTAssertEqual(error as? APNsProviderTokenError, .invalidRefreshInterval)
                XCTAssertTrue("\(error)".contains("20...55 minutes"), "\(error)")
            }
        }
    }

    func testKeyAndTeamIDsAreChecked() throws {
        let key = try loadKey()
        for bad in ["", "SHORT", "TESTKEY1234", "TESTKEY12-", "TESTKEY12 ", "TESTKEY12é"] {
            XCTAssertThrowsError(try APNsProviderTokenCache(key: key, keyID: bad, teamID: Self.teamID, clock: { 0 })) {
                XCTAssertEqual($0 as? APNsProviderTokenError, .invalidKeyID)
            }
            XCTAssertThrowsError(try APNsProviderTokenCache(key: key, keyID: Self.keyID, teamID: bad, clock: { 0 })) {
                XCTAssertEqual($0 as? APNsProviderTokenError, .invalidTeamID)
            }
        }
    }

    func testInvalidKeysGiveClearErrorsWithoutKeyMaterial() throws {
        let pem = try String(contentsOfFile: certificatePath("AuthKey_TESTKEY123.p8"), encoding: .utf8)
        let body = pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        let corrupted = pem.replacingOccurrences(of: String(body.prefix(20)), with: String(repeating: "A", count: 20))
        let cases = ["", "not a key", body, corrupted,
                     "-----BEGIN PRIVATE KEY-----\n\(body.prefix(40))\n-----END PRIVATE KEY-----"]
        for text in cases {
            XCTAssertThrowsError(try APNsSigningKey(pkcs8PEM: text)) { error in
                XCTAssertEqual(error as? APNsProviderTokenError, .invalidKey)
                XCTAssertFalse("\(error)".contains(String(body.prefix(12))), "\(error)")
                XCTAssertFalse("\(error)".isEmpty)
            }
        }
        // Keys on other curves are refused.
        XCTAssertThrowsError(try APNsSigningKey(pkcs8PEM: P384.Signing.PrivateKey().pemRepresentation))
        // A public key is not a signing key.
        XCTAssertThrowsError(try APNsSigningKey(pkcs8PEM: loadKey().publicKeyPEM))
        XCTAssertThrowsError(try APNsSigningKey(contentsOfFile: "/nonexistent/AuthKey.p8")) { error in
            XCTAssertEqual(error as? APNsProviderTokenError, .unreadableKeyFile)
            XCTAssertTrue("\(error)".contains("/nonexistent/AuthKey.p8"))
        }
    }

    func testPEMWithCRLFAndPadding() throws {
        let pem = try String(contentsOfFile: certificatePath("AuthKey_TESTKEY123.p8"), encoding: .utf8)
        let windows = "\n  " + pem.replacingOccurrences(of: "\n", with: "\r\n") + "\r\n\n"
        let key = try APNsSigningKey(pkcs8PEM: windows)
        XCTAssertEqual(key.publicKeyPEM, try loadKey().publicKeyPEM)
    }

    func testConcurrentCallersShareOneToken() async throws {
        let clock = TestClock(Self.start)
        let cache = try makeCache(clock: clock)
        clock.advance(seconds: 50 * 60)
        let tokens = await withTaskGroup(of: String.self) { group in
            for _ in 0..<64 {
                group.addTask { cache.authorization() }
            }
            var tokens = Set<String>()
            for await token in group {
                tokens.insert(token)
            }
            return tokens
        }
        XCTAssertEqual(tokens.count, 1)
        XCTAssertEqual(cache.refreshCount, 2)
    }
}
