import APNs
import Foundation
import HTTP2Engine
import XCTest

@testable import apns_gateway

/// `environment.proxy` and an app's `certificate`: what they become, and errors that name the key.
final class GatewayConfigEgressTests: XCTestCase {
    private static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    private static let tokenApp = #"{"name": "demo", "teamId": "TEAM123456", "keyId": "TESTKEY123", "bundleId": "com.example.app"}"#
    private var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "egress-config-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for name in ["client.p12", "client.key", "client.pem"] {
            try FileManager.default.copyItem(atPath: Self.repository + "/certs/" + name, toPath: directory + "/" + name)
            chmod(directory + "/" + name, 0o600)
        }
        try secret("test\n", "p12-password")
        try secret("wrong\n", "wrong-password")
        try secret("egress:pa:ss\n", "proxy-credentials")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func secret(_ text: String, _ name: String, mode: mode_t = 0o600) throws {
        try text.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
        chmod(directory + "/" + name, mode)
    }

    private func parse(environment: String = #""sandbox""#, apps: String = tokenApp) throws -> GatewayConfig {
        let pem = try String(contentsOfFile: Self.repository + "/certs/AuthKey_TESTKEY123.p8", encoding: .utf8)
        return try GatewayConfig.parse(
            Data(#"{"environment": \#(environment), "apps": [\#(apps)]}"#.utf8), name: "test.json", baseDirectory: directory,
            environment: ["APNS_GATEWAY_APP_DEMO_KEY": pem])
    }

    private func assertError(_ environment: String = #""sandbox""#, apps: String = tokenApp, _ expected: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try parse(environment: environment, apps: apps), file: file, line: line) { error in
            XCTAssertTrue("\(error)".contains(expected), "\(error)", file: file, line: line)
        }
    }

    // MARK: Proxy

    func testAProxyGoesToEveryAppsConnections() throws {
        let config = try parse(environment: #"{"name": "production", "proxy": {"address": "proxy.internal:3128", "credentialsFile": "proxy-credentials"}}"#)
        XCTAssertEqual(config.environment, .production)
        let client = try config.clientConfiguration(for: config.apps[0])
        XCTAssertEqual(
            client.proxy,
            HTTP2Proxy(host: "proxy.internal", port: 3128, credentials: .init(username: "egress", password: "pa:ss")))

        let short = try parse(environment: #"{"host": "127.0.0.1", "port": 2197, "proxy": "[::1]:8080"}"#)
        XCTAssertEqual(short.proxy, HTTP2Proxy(host: "::1", port: 8080))
        XCTAssertNil(try parse().proxy)
    }

    func testProxyErrorsNameTheKey() throws {
        assertError(#"{"name": "sandbox", "proxy": "proxy.internal"}"#, "environment.proxy: must be host:port")
        assertError(#"{"name": "sandbox", "proxy": "proxy.internal:99999"}"#, "environment.proxy: must be host:port")
        assertError(#"{"name": "sandbox", "proxy": {"adress": "p:1"}}"#, "environment.proxy.address: is required")
        assertError(#"{"name": "sandbox", "proxy": {"address": "p:1", "credentialsFile": "missing"}}"#,
                    "environment.proxy.credentialsFile: cannot read the key file")
        try secret("egress:x\n", "open-credentials", mode: 0o644)
        assertError(#"{"name": "sandbox", "proxy": {"address": "p:1", "credentialsFile": "open-credentials"}}"#,
                    "environment.proxy.credentialsFile: the key file")
        try secret("no-colon\n", "bad-credentials")
        assertError(#"{"name": "sandbox", "proxy": {"address": "p:1", "credentialsFile": "bad-credentials"}}"#,
                    "must hold user:password")
        assertError(#"{"name": "staging"}"#, "environment.name: must be")
    }

    // MARK: Two environments

    private func parseRoot(_ members: String) throws -> GatewayConfig {
        let pem = try String(contentsOfFile: Self.repository + "/certs/AuthKey_TESTKEY123.p8", encoding: .utf8)
        return try GatewayConfig.parse(
            Data(#"{"apps": [\#(Self.tokenApp)], \#(members)}"#.utf8), name: "test.json", baseDirectory: directory,
            environment: ["APNS_GATEWAY_APP_DEMO_KEY": pem])
    }

    func testEnvironmentsGiveEveryAppASecondSetOfConnections() throws {
        let both = try parseRoot(#""environments": {"sandbox": "sandbox", "production": {"name": "production", "proxy": "p:3128"}}"#)
        XCTAssertEqual(both.environment, .production, "production first")
        XCTAssertEqual(both.tokenEnvironment, .production)
        XCTAssertEqual(both.proxy, HTTP2Proxy(host: "p", port: 3128))
        XCTAssertEqual(both.otherEnvironment, GatewayConfig.OtherEnvironment(tokens: .development, environment: .sandbox, proxy: nil))
        XCTAssertEqual(try both.clientConfiguration(for: both.apps[0], other: true).environment, .sandbox)
        XCTAssertNil(try both.clientConfiguration(for: both.apps[0], other: true).proxy)

        let custom = try parseRoot(#""environments": {"sandbox": {"host": "127.0.0.1", "port": 2197}}"#)
        XCTAssertEqual(custom.tokenEnvironment, .development, "a custom endpoint named sandbox reaches development tokens")
        XCTAssertNil(custom.otherEnvironment)
        XCTAssertNil(try parseRoot(#""environment": {"host": "127.0.0.1", "port": 2197}"#).tokenEnvironment)
    }

    func testEnvironmentsErrorsNameTheKey() {
        for (members, expected) in [
            (#""environments": {"staging": "sandbox"}"#, "environments.staging: unknown key"),
            (#""environments": {}"#, "environments: needs"),
            (#""environments": {"sandbox": "production"}, "environment": "sandbox""#, "environment: give environment or environments"),
            (#""environments": {"sandbox": {"port": 1}}"#, "environments.sandbox.host: is required"),
        ] {
            XCTAssertThrowsError(try parseRoot(members)) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(error)")
            }
        }
    }

    // MARK: Certificates

    func testCertificateAppsNeedNoKey() throws {
        let config = try parse(apps: """
            {"name": "p12", "bundleId": "com.example.app", "certificate": {"pkcs12Path": "client.p12", "passwordFile": "p12-password"}},
            {"name": "pem", "bundleId": "com.example.app", "certificate": {"certificatePath": "client.pem", "privateKeyPath": "client.key"}}
            """)
        XCTAssertEqual(config.apps.map(\.certificate), [
            .pkcs12(path: directory + "/client.p12", password: "test"),
            .pem(certificateChain: directory + "/client.pem", privateKey: directory + "/client.key"),
        ])
        for app in config.apps {
            guard case .certificate = try config.clientConfiguration(for: app).authentication else {
                return XCTFail("\(app.name) does not use its certificate")
            }
        }
    }

    func testCertificateErrorsNameTheKey() throws {
        func app(_ certificate: String, extra: String = "") -> String {
            #"{"name": "c", "bundleId": "com.example.app"\#(extra), "certificate": \#(certificate)}"#
        }
        assertError(apps: app(#"{"pkcs12Path": "client.p12", "passwordFile": "wrong-password"}"#),
                    "apps[0].certificate: TLS setup failed: cannot read PKCS#12 file")
        assertError(apps: app(#"{"pkcs12Path": "client.p12", "passwordFile": "wrong-password"}"#), "wrong password")
        assertError(apps: app(#"{"certificatePath": "client.pem"}"#), "apps[0].certificate.privateKeyPath: is required")
        assertError(apps: app(#"{"certificatePath": "missing.pem", "privateKeyPath": "client.key"}"#),
                    "apps[0].certificate.certificatePath: cannot read")
        assertError(apps: app(#"{}"#), "apps[0].certificate: needs pkcs12Path")
        assertError(apps: app(#"{"pkcs12Path": "client.p12", "passwordFile": "p12-password"}"#, extra: #", "keyId": "TESTKEY123""#),
                    "apps[0].keyId: an app authenticates with a certificate or a key, not both")
        chmod(directory + "/client.key", 0o640)
        assertError(apps: app(#"{"certificatePath": "client.pem", "privateKeyPath": "client.key"}"#),
                    "apps[0].certificate.privateKeyPath: the key file")
    }
}
