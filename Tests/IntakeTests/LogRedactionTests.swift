import APNs
import APNsCore
import APNsGatewayClient
import Foundation
import Logging
import MockAPNs
import XCTest

/// Every log line of a workload with failures and reconnects, at trace level, is free of device tokens (only
/// 8-character prefixes), of the provider token (JWT) and of the private key.
final class LogRedactionTests: XCTestCase {
    func testNoTokenJWTOrKeyInTheLogs() async throws {
        let store = CollectingLogHandler.Store()
        var logger = Logger(label: "apns.test") { CollectingLogHandler(label: $0, store: store) }
        logger.logLevel = .trace
        let unregistered = 5
        let harness = try await IntakeHarness.start(
            faults: MockFaults(goawayAfterStreams: 50, statusEvery: MockStatusFault(every: 17, status: 500)),
            unregistered: Dictionary(uniqueKeysWithValues: (1000..<1000 + unregistered).map { (deviceToken($0), Int64(1_700_000_000_000)) }),
            logger: logger)
        let tokens = (1000..<1300).map(deviceToken)
        let badToken = String(repeating: "0123456789abcdef", count: 4) + "zz"
        do {
            let client = try await GatewayClient.connect(path: harness.socketPath)
            var notifications = tokens.map { GatewayNotification(token: $0, payload: #"{"aps":{"alert":"hi"}}"#) }
            notifications.append(GatewayNotification(token: badToken, payload: #"{"aps":{"alert":"hi"}}"#))
            let results = try await client.send(notifications)
            XCTAssertEqual(results.filter { $0.reason == "Unregistered" }.count, unregistered)
            XCTAssertEqual(results.last?.reason, "BadDeviceToken")
            await client.close()
        } catch {
            XCTFail("\(error)")
        }
        let statistics = harness.client.statistics
        try await harness.stop()

        let lines = store.lines
        XCTAssertGreaterThan(statistics.pool.goAways.values.reduce(0, +), 0, "the workload had GOAWAYs")
        XCTAssertGreaterThan(statistics.retries, 0, "and retries")
        XCTAssertTrue(lines.contains { $0.contains("connection going away") }, "GOAWAY is logged")
        XCTAssertGreaterThan(lines.filter { $0.contains(" connecting ") }.count, 2, "reconnects are logged")
        XCTAssertTrue(lines.contains { $0.contains("connection closed") && $0.contains("reason=goaway") })
        let failures = lines.filter { $0.contains("notification failed") }
        XCTAssertGreaterThanOrEqual(failures.count, unregistered + 1, "each failed notification has a debug line")
        XCTAssertTrue(failures.contains { $0.contains("token=\(String(deviceToken(1000).prefix(8)))…") }, "tokens show as prefixes")

        let jwt = String(harness.tokens.authorization().dropFirst("bearer ".count))
        let key = try String(contentsOfFile: certificatePath("AuthKey_TESTKEY123.p8"), encoding: .utf8)
        let keyBody = key.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        for line in lines {
            for token in tokens + [badToken] where line.contains(token) {
                XCTFail("a full device token in: \(line)")
            }
            XCTAssertFalse(line.contains(jwt), "the JWT in: \(line)")
            XCTAssertFalse(line.contains("eyJ"), "something like a JWT in: \(line)")
            XCTAssertFalse(line.contains(String(keyBody.prefix(24))), "the key in: \(line)")
            XCTAssertFalse(line.contains("PRIVATE KEY"), "a key in: \(line)")
        }
    }
}
