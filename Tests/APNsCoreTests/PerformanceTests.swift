import APNsCore
import Foundation
import NIOCore
import XCTest

/// Hot-path timings, run only with `APNS_CORE_BENCHMARKS=1` (use a release build:
/// `APNS_CORE_BENCHMARKS=1 swift test -c release --filter APNsCoreTests.PerformanceTests`).
final class PerformanceTests: XCTestCase {
    override func setUpWithError() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["APNS_CORE_BENCHMARKS"] == "1", "benchmarks are opt-in")
    }

    /// Runs `body` `iterations` times and prints the mean time per call.
    private func measureNanoseconds(_ name: String, iterations: Int, _ body: () -> Void) -> Double {
        for _ in 0..<(iterations / 10) {
            body()
        }
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            for _ in 0..<iterations {
                body()
            }
        }
        let (seconds, attoseconds) = elapsed.components
        let nanoseconds = (Double(seconds) * 1e9 + Double(attoseconds) / 1e9) / Double(iterations)
        print("\(name): \(String(format: "%.1f", nanoseconds)) ns/op")
        return nanoseconds
    }

    func testValidateTwoHundredBytePayload() throws {
        var payload = #"{"aps":{"alert":{"title":"Game update","body":"Your team scored! Tap to see the replay."},"#
        payload += #""sound":"default","badge":3},"game":{"id":12345,"score":[3,1],"final":false},"pad":""#
        payload += String(repeating: "x", count: 200 - payload.utf8.count - 2) + #""}"#
        XCTAssertEqual(payload.utf8.count, 200)
        var notification = validNotification(payload: payload)
        notification.priority = .immediate
        notification.collapseID = "game-12345"
        notification.apnsID = "123e4567-e89b-12d3-a456-4266554400a0"
        try notification.validate()
        var failures = 0
        let nanoseconds = measureNanoseconds("validate (200-byte payload)", iterations: 1_000_000) {
            do { try notification.validate() } catch { failures += 1 }
        }
        XCTAssertEqual(failures, 0)
        XCTAssertLessThan(nanoseconds, 1000)
    }

    func testAuthorizationFastPath() throws {
        let cache = try APNsProviderTokenCache(
            key: APNsSigningKey(contentsOfFile: certificatePath("AuthKey_TESTKEY123.p8")),
            keyID: "TESTKEY123", teamID: "TEAM123456", clock: { 1_700_000_000 })
        var length = 0
        let nanoseconds = measureNanoseconds("authorization (cached)", iterations: 1_000_000) {
            length &+= cache.authorization().utf8.count
        }
        XCTAssertGreaterThan(length, 0)
        XCTAssertLessThan(nanoseconds, 1000)
    }

    func testHeaderEncoding() throws {
        var notification = validNotification()
        notification.priority = .immediate
        notification.expiration = 1_900_000_000
        var count = 0
        _ = measureNanoseconds("headers (7 fields + expiration)", iterations: 1_000_000) {
            count &+= APNsHeaderEncoder.headers(for: notification, authority: "api.push.apple.com", authorization: "bearer x").count
        }
        XCTAssertGreaterThan(count, 0)
    }

    func testSigning() throws {
        let key = try APNsSigningKey(contentsOfFile: certificatePath("AuthKey_TESTKEY123.p8"))
        var length = 0
        _ = measureNanoseconds("sign a provider token", iterations: 2_000) {
            length &+= (try? key.makeProviderToken(keyID: "TESTKEY123", teamID: "TEAM123456", issuedAt: 1))?.utf8.count ?? 0
        }
        XCTAssertGreaterThan(length, 0)
    }
}
