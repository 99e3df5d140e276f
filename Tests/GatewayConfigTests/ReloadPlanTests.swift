import APNsCore
import Foundation
import XCTest

@testable import apns_gateway

/// What a SIGHUP applies in place (provider keys, log level) and what it only reports as needing a restart.
final class ReloadPlanTests: XCTestCase {
    private static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    private func parse(_ text: String, keyPEM: String? = nil) throws -> GatewayConfig {
        let pem = try keyPEM ?? String(contentsOfFile: Self.repository + "/certs/AuthKey_TESTKEY123.p8", encoding: .utf8)
        return try GatewayConfig.parse(
            Data(text.utf8), name: "test.json", baseDirectory: Self.repository + "/config",
            environment: ["APNS_GATEWAY_APP_DEMO_KEY": pem, "APNS_GATEWAY_APP_OTHER_KEY": pem])
    }

    private func file(keyID: String = "TESTKEY123", level: String = "info", apps extra: String = "", environment: String = "sandbox") -> String {
        """
        {"environment": "\(environment)", "log": {"level": "\(level)"},
         "apps": [{"name": "demo", "teamId": "TEAM123456", "keyId": "\(keyID)", "bundleId": "com.example.app"}\(extra)]}
        """
    }

    func testTheSameFileChangesNothing() throws {
        XCTAssertTrue(ReloadPlan(running: try parse(file()), new: try parse(file())).isEmpty)
    }

    func testANewKeyIDOrKeyIsRotatedInPlace() throws {
        let running = try parse(file())
        let plan = ReloadPlan(running: running, new: try parse(file(keyID: "NEWKEY4567")))
        XCTAssertEqual(plan.rotations.map(\.app), ["demo"])
        XCTAssertEqual(plan.rotations.first?.keyID, "NEWKEY4567")
        XCTAssertTrue(plan.needsRestart.isEmpty, "\(plan.needsRestart)")

        // Another key, made by openssl for this run.
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        openssl.arguments = ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
        let output = Pipe()
        openssl.standardOutput = output
        try openssl.run()
        let otherKey = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        openssl.waitUntilExit()
        let swapped = ReloadPlan(running: running, new: try parse(file(), keyPEM: otherKey))
        XCTAssertEqual(swapped.rotations.map(\.app), ["demo"], "the same key id with another key is a rotation too")
    }

    func testTheLogLevelIsAppliedAndOtherChangesNeedARestart() throws {
        let plan = ReloadPlan(
            running: try parse(file()),
            new: try parse(file(
                level: "debug",
                apps: #", {"name": "other", "teamId": "TEAM123456", "keyId": "TESTKEY123", "bundleId": "com.example.other"}"#,
                environment: "production")))
        XCTAssertEqual(plan.logLevel, .debug)
        XCTAssertTrue(plan.rotations.isEmpty)
        XCTAssertEqual(plan.needsRestart, ["app other added", "environment"])
    }
}
