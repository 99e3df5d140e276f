import APNs
import APNsCore
import JSON
import NIOCore
import NIOPosix
import XCTest

@testable import Intake

/// The intake's own refusals carry a typed reason; results and counters show its name.
final class LocalRejectionTests: XCTestCase {
    private func rejection(_ routes: APNsApps, _ item: ScannedItem) -> LocalRejection? {
        guard case .failure(let rejection) = routes.notification(for: item, payload: try? JSONObjectBytes(validating: ByteBuffer(string: "{}"))) else { return nil }
        return rejection
    }

    func testEachRefusalHasItsReasonAndTheNameResultsShow() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let tokens = try APNsProviderTokenCache(key: try IntakeHarness.signingKey(), keyID: "TESTKEY123", teamID: "TEAM123456")
        // Never started: routing does not connect.
        let client = try APNsClient(
            configuration: APNsClientConfiguration(environment: .custom(host: "127.0.0.1", port: 1), authentication: .token(tokens)),
            group: group)
        let one = APNsApps([APNsApp(name: "demo", bundleID: "com.example.app", client: client)])
        let none = APNsApps([])
        let token = APNsDeviceToken(String(repeating: "ab", count: 32))

        let cases: [(APNsApps, ScannedItem, IntakeRejectionReason, String)] = [
            (one, ScannedItem(token: token, problem: "\"priority\" must be an integer"), .badRequest, "BadRequest"),
            (one, ScannedItem(token: token, app: "other"), .unknownApp, "UnknownApp"),
            (none, ScannedItem(token: token), .unknownApp, "UnknownApp"),
            (one, ScannedItem(token: token, pushType: "carrier-pigeon"), .invalidPushType, "InvalidPushType"),
            (one, ScannedItem(token: token, priority: 7), .badPriority, "BadPriority"),
            (one, ScannedItem(), .badRequest, "BadRequest"),
        ]
        for (routes, item, reason, name) in cases {
            let rejection = try XCTUnwrap(rejection(routes, item), "\(item)")
            XCTAssertEqual(rejection.reason, reason, "\(item)")
            XCTAssertEqual(rejection.result.reason, name)
            XCTAssertEqual(rejection.result.source, .local)
        }
        XCTAssertEqual(IntakeRejectionReason.invalidPushType.name, APNsReason.invalidPushType.rawValue)
        XCTAssertEqual(IntakeRejectionReason.badPriority.name, APNsReason.badPriority.rawValue)
    }

    func testRejectionsAreCountedByReason() {
        let context = IntakeContext(configuration: IntakeConfiguration(socketPath: "/nonexistent"), routes: APNsApps([]))
        context.countRejection(.unknownApp)
        context.countRejection(.unknownApp)
        context.countRejection(.badPriority)
        XCTAssertEqual(context.statistics.rejections, ["UnknownApp": 2, "BadPriority": 1])
    }
}
