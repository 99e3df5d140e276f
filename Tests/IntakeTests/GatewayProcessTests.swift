import GatewayTestSupport
import APNsGatewayClient
import Foundation
import MockAPNs
import NIOCore
import XCTest

/// Tests that run the real `apns-gateway` binary as a child process.
final class GatewayProcessTests: XCTestCase {
    private func writeConfig(directory: String, mockPort: Int, keyMode: mode_t = 0o600, extra: String = "") throws -> String {
        let keyPath = directory + "/AuthKey.p8"
        try FileManager.default.copyItem(atPath: certificatePath("AuthKey_TESTKEY123.p8"), toPath: keyPath)
        chmod(keyPath, keyMode)
        let config = """
            {
              "environment": {"host": "127.0.0.1", "port": \(mockPort), "serverName": "localhost", "caFile": "\(certificatePath("test-ca.pem"))"},
              "apps": [{"name": "demo", "teamId": "TEAM123456", "keyId": "TESTKEY123", "keyPath": "AuthKey.p8", "bundleId": "com.example.app"}],
              "pool": {"connections": 2, "maxOutstanding": 300},
              "timeouts": {"requestSeconds": 20, "shutdownGraceSeconds": 3},
              "intake": {"socketPath": "gw.sock"},
              "logLevel": "warning"\(extra)
            }
            """
        let path = directory + "/config.json"
        try config.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// SIGTERM while a batch is being delivered: every notification of the batch is answered (delivered, or
    /// `Shutdown` from the gateway), the process exits 0 and the socket file is gone.
    func testSIGTERMMidBatchAnswersEveryAcceptedNotificationAndRemovesTheSocket() async throws {
        let binary = ChildProcess.gatewayBinary
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: binary), "build apns-gateway first: \(binary)")
        let mock = try await IntakeHarness.startMock(faults: MockFaults(responseDelay: .milliseconds(200)))
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let config = try writeConfig(directory: directory, mockPort: mock.port)
        let child = try ChildProcess(binary, ["serve", "--config", config])
        let ready = await onThread { child.readLine() }
        XCTAssertEqual(ready, "apns-gateway ready on \(directory)/gw.sock")
        let socketPath = directory + "/gw.sock"

        let client = try await GatewayClient.connect(path: socketPath)
        let notifications = (0..<3000).map {
            GatewayNotification(token: deviceToken($0), payload: #"{"aps":{"alert":"n\#($0)"}}"#)
        }
        let sending = Task { try await client.send(notifications) }
        // Wait (bounded) until APNs has seen part of the batch, then ask the gateway to stop.
        let deadline = ContinuousClock.now + .seconds(20)
        while mock.stats.streamsReceived < 50 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        XCTAssertGreaterThanOrEqual(mock.stats.streamsReceived, 50)
        child.signal(SIGTERM)

        let results = try await sending.value
        XCTAssertEqual(results.count, 3000)
        let delivered = results.filter { $0.status == 200 }.count
        let shutDown = results.filter { $0.source == "gateway" && $0.reason == "Shutdown" }.count
        XCTAssertEqual(delivered + shutDown, 3000, "every result is a delivery or Shutdown")
        XCTAssertGreaterThan(delivered, 0)
        XCTAssertGreaterThan(shutDown, 0)
        print("SIGTERM mid-batch: \(delivered) delivered, \(shutDown) answered Shutdown")
        await client.close()

        let status = await onThread { child.wait() }
        XCTAssertEqual(status, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: socketPath), "the socket file was removed")
        try await mock.shutdown()
    }

    /// The configuration is validated before start: a key readable by others and a misspelt key are refused
    /// with messages naming the key.
    func testConfigurationErrorsNameTheKey() async throws {
        let binary = ChildProcess.gatewayBinary
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let config = try writeConfig(directory: directory, mockPort: 1, keyMode: 0o644)
        let open = try ChildProcess(binary, ["check-config", "--config", config], includeStandardError: true)
        let openOutput = await onThread { open.readToEnd() }
        let openStatus = await onThread { open.wait() }
        XCTAssertNotEqual(openStatus, 0)
        XCTAssertTrue(openOutput.contains("apps[0].keyPath") && openOutput.contains("chmod 600"), openOutput)

        chmod(directory + "/AuthKey.p8", 0o600)
        var text = try String(contentsOfFile: config, encoding: .utf8)
        text = text.replacingOccurrences(of: "\"maxOutstanding\"", with: "\"maxOutstandin\"")
        try text.write(toFile: config, atomically: true, encoding: .utf8)
        let typo = try ChildProcess(binary, ["check-config", "--config", config], includeStandardError: true)
        let typoOutput = await onThread { typo.readToEnd() }
        _ = await onThread { typo.wait() }
        XCTAssertTrue(typoOutput.contains("pool.maxOutstandin: unknown key"), typoOutput)

        text = text.replacingOccurrences(
            of: "\"maxOutstandin\": 300",
            with: "\"maxOutstanding\": 300, \"reconnectInitialBackoffSeconds\": 2, \"reconnectMaxBackoffSeconds\": 1")
        try text.write(toFile: config, atomically: true, encoding: .utf8)
        let backoff = try ChildProcess(binary, ["check-config", "--config", config], includeStandardError: true)
        let backoffOutput = await onThread { backoff.readToEnd() }
        let backoffStatus = await onThread { backoff.wait() }
        XCTAssertNotEqual(backoffStatus, 0)
        XCTAssertTrue(backoffOutput.contains("pool.reconnectMaxBackoffSeconds: must be at least"), backoffOutput)

        text = text.replacingOccurrences(of: "\"reconnectMaxBackoffSeconds\": 1", with: "\"reconnectMaxBackoffSeconds\": 5")
        text = text.replacingOccurrences(of: "\"shutdownGraceSeconds\": 3", with: "\"shutdownGraceSeconds\": 3, \"stallSeconds\": 0")
        try text.write(toFile: config, atomically: true, encoding: .utf8)
        let stall = try ChildProcess(binary, ["check-config", "--config", config], includeStandardError: true)
        let stallOutput = await onThread { stall.readToEnd() }
        let stallStatus = await onThread { stall.wait() }
        XCTAssertNotEqual(stallStatus, 0)
        XCTAssertTrue(stallOutput.contains("timeouts.stallSeconds: must be within"), stallOutput)

        text = text.replacingOccurrences(of: "\"stallSeconds\": 0", with: "\"stallSeconds\": 2, \"stallPingTimeoutSeconds\": 1")
        try text.write(toFile: config, atomically: true, encoding: .utf8)
        let good = try ChildProcess(binary, ["check-config", "--config", config], includeStandardError: true)
        let goodOutput = await onThread { good.readToEnd() }
        let goodStatus = await onThread { good.wait() }
        XCTAssertEqual(goodStatus, 0, goodOutput)
    }
}
