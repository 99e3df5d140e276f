import Foundation
import Intake
import NIOCore
import XCTest

@testable import apns_gateway

/// `intake.listen`, `intake.tls` and `intake.auth`: the network intake is off by default, needs TLS and
/// credentials, and a bad file stops the start with its name.
final class NetworkIntakeConfigTests: XCTestCase {
    private static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    private static let app = #"{"name": "demo", "teamId": "TEAM123456", "keyId": "TESTKEY123", "bundleId": "com.example.app"}"#
    private var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "netintake-config-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let line = try IntakeCredentials.hashLine(name: "backend", scopes: [.send], rateLimit: nil, token: "test-only-token-0123456789abcdef")
        try (line + "\n").write(toFile: directory + "/tokens.txt", atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func parse(intake: String) throws -> GatewayConfig {
        let pem = try String(contentsOfFile: Self.repository + "/certs/AuthKey_TESTKEY123.p8", encoding: .utf8)
        let text = #"{"environment": "sandbox", "apps": [\#(Self.app)], "intake": \#(intake)}"#
        return try GatewayConfig.parse(
            Data(text.utf8), name: "test.json", baseDirectory: directory, environment: ["APNS_GATEWAY_APP_DEMO_KEY": pem])
    }

    private var tls: String { #""tls": {"certFile": "\#(Self.repository)/certs/localhost.pem", "keyFile": "\#(Self.repository)/certs/localhost.key"}"# }

    func testTheNetworkIntakeIsOffByDefault() throws {
        XCTAssertNil(try parse(intake: "{}").intake.network)
    }

    func testAFullNetworkIntake() throws {
        let config = try parse(
            intake: #"{"listen": "[::1]:7443", \#(tls), "auth": {"tokensFile": "tokens.txt", "timeoutSeconds": 3}}"#)
        let network = try XCTUnwrap(config.intake.network)
        XCTAssertEqual(network.host, "::1")
        XCTAssertEqual(network.port, 7443)
        XCTAssertEqual(network.authTimeout, .seconds(3))
        XCTAssertNil(network.clientCAFile)
        XCTAssertEqual(network.credentials.principals.map(\.name), ["backend"])
        XCTAssertEqual(network.listenDescription, "[::1]:7443")
        let defaults = try XCTUnwrap(try parse(intake: #"{"listen": "0.0.0.0:7443", \#(tls), "auth": {"tokensFile": "tokens.txt"}}"#).intake.network)
        XCTAssertEqual(defaults.authTimeout, NetworkIntakeConfiguration.defaultAuthTimeout)
    }

    func testMistakesAreNamed() throws {
        let cases: [(String, String)] = [
            (#"{"listen": "0.0.0.0:7443", "auth": {"tokensFile": "tokens.txt"}}"#, "intake.tls: is required with intake.listen"),
            (#"{"listen": "0.0.0.0:7443", \#(tls)}"#, "intake.auth: is required"),
            (#"{\#(tls)}"#, "intake.listen: is required"),
            (#"{"listen": "7443", \#(tls), "auth": {"tokensFile": "tokens.txt"}}"#, "intake.listen: must be host:port"),
            (#"{"listen": "0.0.0.0:7443", \#(tls), "auth": {"tokensFile": "missing.txt"}}"#, "cannot read the credentials file"),
            (
                #"{"listen": "0.0.0.0:7443", "tls": {"certFile": "nope.pem", "keyFile": "nope.key"}, "auth": {"tokensFile": "tokens.txt"}}"#,
                "intake.tls: cannot read the intake's certificate"
            ),
            (#"{"listen": "0.0.0.0:7443", \#(tls), "auth": {"tokensFile": "tokens.txt", "timeoutSeconds": 0}}"#, "intake.auth.timeoutSeconds"),
            (#"{"listen": "0.0.0.0:7443", \#(tls), "auth": {"tokensFile": "tokens.txt", "token": "x"}}"#, "intake.auth.token: unknown key"),
        ]
        for (intake, expected) in cases {
            XCTAssertThrowsError(try parse(intake: intake), intake) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(error) lacks \(expected)")
            }
        }
    }

    func testCertificateLinesNeedAClientCA() throws {
        try "pusher send unlimited cn:some client\n".write(toFile: directory + "/certs.txt", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try parse(intake: #"{"listen": "0.0.0.0:7443", \#(tls), "auth": {"tokensFile": "certs.txt"}}"#)) { error in
            XCTAssertTrue("\(error)".contains("intake.tls.clientCAFile: is required"), "\(error)")
        }
    }
}
