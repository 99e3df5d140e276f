import APNsGatewayClient
import Foundation
import GatewayTestSupport
import MockAPNs
import XCTest

/// The daemon's egress options, run as a child process against the mock over real TLS: certificate
/// authentication (PKCS#12 and PEM) and an HTTP `CONNECT` proxy with basic authentication (tinyproxy).
final class GatewayEgressProcessTests: XCTestCase {
    /// Copies a test credential into `directory` with mode 600, as the gateway requires of secrets.
    private func privateCopy(_ name: String, into directory: String) throws -> String {
        let path = directory + "/" + name
        try FileManager.default.copyItem(atPath: certificatePath(name), toPath: path)
        chmod(path, 0o600)
        return path
    }

    private func writePrivateFile(_ text: String, _ path: String) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o600)
    }

    /// Two certificate-authenticated apps (one PKCS#12, one PEM) behind a proxy that requires credentials: the
    /// mock requires a client certificate from our CA, sees no provider token, and the tunnels are the proxy's.
    func testCertificateAppsThroughAnAuthenticatingProxy() async throws {
        let binary = ChildProcess.gatewayBinary
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: binary), "build apns-gateway first: \(binary)")
        var mockConfiguration = try IntakeHarness.mockConfiguration()
        mockConfiguration.trustRootsForClientCertificates = certificatePath("test-ca.pem")
        mockConfiguration.recordRequests = true
        let mock = try await MockAPNsServer.start(configuration: mockConfiguration)
        let proxy = try TinyProxy(credentials: ("egress", "pr0xy"))
        defer { proxy.stop() }
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = try privateCopy("client.p12", into: directory)
        _ = try privateCopy("client.key", into: directory)
        try writePrivateFile("test\n", directory + "/p12-password")
        try writePrivateFile("egress:pr0xy\n", directory + "/proxy-credentials")
        let config = """
            {
              "environment": {
                "host": "127.0.0.1", "port": \(mock.port), "serverName": "localhost", "caFile": "\(certificatePath("test-ca.pem"))",
                "proxy": {"address": "127.0.0.1:\(proxy.port)", "credentialsFile": "proxy-credentials"}
              },
              "apps": [
                {"name": "bundle", "bundleId": "com.example.app", "certificate": {"pkcs12Path": "client.p12", "passwordFile": "p12-password"}},
                {"name": "pem", "bundleId": "com.example.app",
                 "certificate": {"certificatePath": "\(certificatePath("client.pem"))", "privateKeyPath": "client.key"}}
              ],
              "pool": {"connections": 1},
              "intake": {"socketPath": "gw.sock"},
              "log": {"level": "warning"}
            }
            """
        try config.write(toFile: directory + "/config.json", atomically: true, encoding: .utf8)
        let child = try ChildProcess(binary, ["serve", "--config", directory + "/config.json"])
        let ready = await onThread { child.readLine() }
        XCTAssertEqual(ready, "apns-gateway ready on \(directory)/gw.sock")

        let client = try await GatewayClient.connect(path: directory + "/gw.sock")
        var notifications: [GatewayNotification] = []
        for index in 0..<200 {
            var notification = GatewayNotification(token: deviceToken(index), payload: #"{"aps":{"alert":"hi"}}"#)
            notification.app = index % 2 == 0 ? "bundle" : "pem"
            notifications.append(notification)
        }
        let results = try await client.send(notifications)
        await client.close()
        child.signal(SIGTERM)
        let status = await onThread { child.wait() }

        XCTAssertEqual(results.filter(\.isSuccess).count, 200, "\(results.first { !$0.isSuccess }.map { "\($0)" } ?? "")")
        XCTAssertEqual(mock.stats.streamsReceived, 200)
        XCTAssertTrue(mock.received.allSatisfy { $0.headers["authorization"] == nil }, "no provider token with certificates")
        XCTAssertEqual(proxy.connectTargets, ["127.0.0.1:\(mock.port)", "127.0.0.1:\(mock.port)"], proxy.log)
        XCTAssertEqual(status, 0)
        try await mock.shutdown()
    }

    /// Without a client certificate the same mock refuses the connection: the test above depends on it.
    func testTheMockRefusesAClientWithoutACertificateWhenItRequiresOne() async throws {
        let binary = ChildProcess.gatewayBinary
        var mockConfiguration = try IntakeHarness.mockConfiguration()
        mockConfiguration.trustRootsForClientCertificates = certificatePath("test-ca.pem")
        let mock = try await MockAPNsServer.start(configuration: mockConfiguration)
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = try privateCopy("AuthKey_TESTKEY123.p8", into: directory)
        let config = """
            {
              "environment": {"host": "127.0.0.1", "port": \(mock.port), "serverName": "localhost", "caFile": "\(certificatePath("test-ca.pem"))"},
              "apps": [{"name": "demo", "teamId": "TEAM123456", "keyId": "TESTKEY123", "keyPath": "AuthKey_TESTKEY123.p8", "bundleId": "com.example.app"}],
              "pool": {"connections": 1},
              "timeouts": {"requestSeconds": 1},
              "intake": {"socketPath": "gw.sock"},
              "log": {"level": "warning"}
            }
            """
        try config.write(toFile: directory + "/config.json", atomically: true, encoding: .utf8)
        let child = try ChildProcess(binary, ["serve", "--config", directory + "/config.json"])
        _ = await onThread { child.readLine() }
        let client = try await GatewayClient.connect(path: directory + "/gw.sock")
        let results = try await client.send([GatewayNotification(token: deviceToken(1), payload: #"{"aps":{"alert":"hi"}}"#)])
        await client.close()
        child.signal(SIGTERM)
        _ = await onThread { child.wait() }

        XCTAssertEqual(results.count, 1)
        XCTAssertEqual(results.first?.source, "gateway", "\(results)")
        XCTAssertEqual(mock.stats.streamsReceived, 0)
        try await mock.shutdown()
    }
}
