import GatewayTestSupport
import APNsGatewayClient
import Foundation
import MockAPNs
import XCTest

/// The `apns-gateway` binary with and without the `liveActivities` section.
final class GatewayLiveActivityTests: XCTestCase {
    private func writeConfig(directory: String, mockPort: Int, liveActivities: String?) throws -> String {
        let keyPath = directory + "/AuthKey.p8"
        if !FileManager.default.fileExists(atPath: keyPath) {
            try FileManager.default.copyItem(atPath: certificatePath("AuthKey_TESTKEY123.p8"), toPath: keyPath)
            chmod(keyPath, 0o600)
        }
        let section = liveActivities.map { #","liveActivities": \#($0)"# } ?? ""
        let config = """
            {
              "environment": {"host": "127.0.0.1", "port": \(mockPort), "serverName": "localhost", "caFile": "\(certificatePath("test-ca.pem"))"},
              "apps": [{"name": "demo", "teamId": "TEAM123456", "keyId": "TESTKEY123", "keyPath": "AuthKey.p8", "bundleId": "com.example.app"}],
              "timeouts": {"requestSeconds": 20, "shutdownGraceSeconds": 3},
              "intake": {"socketPath": "gw.sock"},
              "logLevel": "warning"\(section)
            }
            """
        let path = directory + "/config.json"
        try config.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private func startGateway(config: String, socketPath: String) async throws -> ChildProcess {
        let child = try ChildProcess(ChildProcess.gatewayBinary, ["serve", "--config", config])
        let ready = await onThread { child.readLine() }
        XCTAssertEqual(ready, "apns-gateway ready on \(socketPath)")
        return child
    }

    private func request(_ socketPath: String, _ line: String) async throws -> [String: Any] {
        let client = try await GatewayClient.connect(path: socketPath)
        let reply = try await client.request(line: line)
        await client.close()
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(reply.line.utf8)) as? [String: Any])
    }

    /// Tokens and a scheduled end survive a restart of the process: the second process sends the end once.
    func testRegistryAndScheduledEndSurviveARestart() async throws {
        let mock = try await IntakeHarness.startMock(record: true)
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let config = try writeConfig(
            directory: directory, mockPort: mock.port,
            liveActivities: #"{"registryPath": "state/registry.sqlite", "schedulerIntervalSeconds": 0.1}"#)
        let socketPath = directory + "/gw.sock"
        let token = deviceToken(4242)

        let first = try await startGateway(config: config, socketPath: socketPath)
        let registered = try await request(
            socketPath, #"{"id":1,"op":"activity.register","activityId":"a","deviceId":"d","token":"\#(token)"}"#)
        XCTAssertEqual(registered["registered"] as? String, "created")
        let at = Int(Date().timeIntervalSince1970) + 2
        let scheduled = try await request(
            socketPath, #"{"id":2,"op":"activity.schedule_end","activityId":"a","at":\#(at),"scheduleId":"e","contentState":{}}"#)
        XCTAssertEqual(scheduled["state"] as? String, "pending", "\(scheduled)")
        first.signal(SIGTERM)
        let firstStatus = await onThread { first.wait() }
        XCTAssertEqual(firstStatus, 0)
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory + "/state/registry.sqlite"))

        let second = try await startGateway(config: config, socketPath: socketPath)
        // Registered before the restart: no new registration needed.
        let updated = try await request(socketPath, #"{"id":3,"op":"activity.update","activityId":"a","contentState":{"n":1}}"#)
        XCTAssertEqual((updated["counts"] as? [String: Any])?["succeeded"] as? Int, 1, "\(updated)")
        func ends() -> Int {
            mock.received.filter { $0.deviceToken == token && String(decoding: $0.body, as: UTF8.self).contains(#""event":"end""#) }.count
        }
        let deadline = ContinuousClock.now + .seconds(15)
        while ends() == 0 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        XCTAssertEqual(ends(), 1)
        let cancel = try await request(socketPath, #"{"id":4,"op":"activity.cancel_scheduled_end","scheduleId":"e"}"#)
        XCTAssertEqual((cancel["error"] as? [String: Any])?["code"] as? String, "ScheduleNotPending")
        second.signal(SIGTERM)
        let secondStatus = await onThread { second.wait() }
        XCTAssertEqual(secondStatus, 0)
        XCTAssertEqual(ends(), 1, "sent once")
        try await mock.shutdown()
    }

    /// Without a `liveActivities` section the ops answer LiveActivitiesDisabled, naming the missing key.
    func testWithoutTheSectionTheOpsAreDisabled() async throws {
        let mock = try await IntakeHarness.startMock()
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let config = try writeConfig(directory: directory, mockPort: mock.port, liveActivities: nil)
        let socketPath = directory + "/gw.sock"
        let gateway = try await startGateway(config: config, socketPath: socketPath)
        let reply = try await request(socketPath, #"{"id":1,"op":"activity.update","activityId":"a","contentState":{}}"#)
        let error = try XCTUnwrap(reply["error"] as? [String: Any])
        XCTAssertEqual(error["code"] as? String, "LiveActivitiesDisabled")
        XCTAssertTrue((error["message"] as? String)?.contains("\"liveActivities\"") == true, "\(error)")
        gateway.signal(SIGTERM)
        let status = await onThread { gateway.wait() }
        XCTAssertEqual(status, 0)

        // A misspelt key in the section is refused by name.
        let typo = try writeConfig(
            directory: directory, mockPort: mock.port, liveActivities: #"{"registryPath": "r.sqlite", "maxUserPerStart": 5}"#)
        let check = try ChildProcess(ChildProcess.gatewayBinary, ["check-config", "--config", typo], includeStandardError: true)
        let output = await onThread { check.readToEnd() }
        _ = await onThread { check.wait() }
        XCTAssertTrue(output.contains("liveActivities.maxUserPerStart: unknown key"), output)
        try await mock.shutdown()
    }
}
