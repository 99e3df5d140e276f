import APNsGatewayClient
import Foundation
import GatewayTestSupport
import MockAPNs
import XCTest

/// Two `apns-gateway serve` processes on one PostgreSQL registry (a throw-away cluster the test starts): what one
/// stores, the other uses; a scheduled end goes out once from the fleet; a wrong password fails start at once.
final class GatewayFleetProcessTests: XCTestCase {
    private func writeConfig(directory: String, name: String, mockPort: Int, store: String) throws -> String {
        let keyPath = directory + "/AuthKey.p8"
        if !FileManager.default.fileExists(atPath: keyPath) {
            try FileManager.default.copyItem(atPath: certificatePath("AuthKey_TESTKEY123.p8"), toPath: keyPath)
            chmod(keyPath, 0o600)
        }
        let config = """
            {
              "environment": {"host": "127.0.0.1", "port": \(mockPort), "serverName": "localhost", "caFile": "\(certificatePath("test-ca.pem"))"},
              "apps": [{"name": "demo", "teamId": "TEAM123456", "keyId": "TESTKEY123", "keyPath": "AuthKey.p8", "bundleId": "com.example.app"}],
              "timeouts": {"requestSeconds": 20, "shutdownGraceSeconds": 3},
              "intake": {"socketPath": "\(name).sock"},
              "logLevel": "info",
              "liveActivities": {"store": \(store), "schedulerIntervalSeconds": 0.1}
            }
            """
        let path = directory + "/\(name).json"
        try config.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private func store(_ cluster: PostgresCluster, database: String, passwordFile: String) -> String {
        #"{"postgres": {"url": "postgres://\#(cluster.user)@127.0.0.1:\#(cluster.port)/\#(database)", "passwordFile": "\#(passwordFile)", "tls": "disable", "leaseSeconds": 5, "poolSize": 2}}"#
    }

    private func request(_ socketPath: String, _ line: String) async throws -> [String: Any] {
        let client = try await GatewayClient.connect(path: socketPath)
        let reply = try await client.request(line: line)
        await client.close()
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(reply.line.utf8)) as? [String: Any])
    }

    func testTwoGatewaysShareOnePostgresRegistry() async throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        let database = try cluster.createDatabase(prefix: "fleet")
        let mock = try await IntakeHarness.startMock(record: true)
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = store(cluster, database: database, passwordFile: cluster.passwordFile)

        var gateways: [ChildProcess] = []
        for name in ["a", "b"] {
            let config = try writeConfig(directory: directory, name: name, mockPort: mock.port, store: store)
            let child = try ChildProcess(ChildProcess.gatewayBinary, ["serve", "--config", config], includeStandardError: true)
            var lines: [String] = []
            while let line = await onThread({ child.readLine() }) {
                lines.append(line)
                if line.hasPrefix("apns-gateway ready on") { break }
            }
            XCTAssertEqual(lines.last, "apns-gateway ready on \(directory)/\(name).sock", lines.joined(separator: "\n"))
            XCTAssertFalse(lines.joined().contains(cluster.password), "the password is never logged")
            gateways.append(child)
        }
        let tokens = (1...3).map { deviceToken(7000 + $0) }
        for (index, token) in tokens.enumerated() {
            let registered = try await request(
                directory + "/a.sock",
                #"{"id":\#(index),"op":"activity.register","activityId":"match","deviceId":"d\#(index)","token":"\#(token)"}"#)
            XCTAssertEqual(registered["registered"] as? String, "created", "\(registered)")
        }
        // Registered through a, updated through b.
        let updated = try await request(
            directory + "/b.sock", #"{"id":9,"op":"activity.update","activityId":"match","contentState":{"score":"1-0"}}"#)
        XCTAssertEqual((updated["counts"] as? [String: Any])?["succeeded"] as? Int, 3, "\(updated)")
        for token in tokens {
            XCTAssertEqual(mock.received.filter { $0.deviceToken == token }.count, 1, "one push per token")
        }

        // An end scheduled through b, due now, goes out once from the fleet (both gateways' schedulers run).
        let scheduled = try await request(
            directory + "/b.sock",
            #"{"id":10,"op":"activity.schedule_end","activityId":"match","at":\#(Int(Date().timeIntervalSince1970)),"scheduleId":"end-1","contentState":{}}"#)
        XCTAssertEqual(scheduled["state"] as? String, "pending", "\(scheduled)")
        func ends() -> Int {
            mock.received.filter { String(decoding: $0.body, as: UTF8.self).contains(#""event":"end""#) }.count
        }
        let deadline = ContinuousClock.now + .seconds(20)
        while ends() < tokens.count && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        let state = try cluster.superuser("SELECT state || ',' || possibly_sent FROM scheduled_ends WHERE id = 'end-1'", database: database)
        XCTAssertEqual(state.output, "done,false")
        let again = try await request(
            directory + "/a.sock",
            #"{"id":11,"op":"activity.cancel_scheduled_end","scheduleId":"end-1"}"#)
        XCTAssertEqual((again["error"] as? [String: Any])?["code"] as? String, "ScheduleNotPending", "a sees b's end as sent")
        XCTAssertEqual(ends(), tokens.count, "the end reached each token once")

        for gateway in gateways {
            gateway.signal(SIGTERM)
            let output = await onThread { gateway.readToEnd() }
            XCTAssertFalse(output.contains(cluster.password), "the password is never logged")
            let status = await onThread { gateway.wait() }
            XCTAssertEqual(status, 0, output)
        }
        try await mock.shutdown()
    }

    /// A wrong password: `serve` fails at once naming SQLSTATE 28P01, and shows no password.
    func testAWrongPasswordFailsStartAtOnce() async throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        let database = try cluster.createDatabase(prefix: "fleet")
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let wrong = "wrong-\(UUID().uuidString)"
        let passwordFile = directory + "/pg.password"
        try (wrong + "\n").write(toFile: passwordFile, atomically: true, encoding: .utf8)
        chmod(passwordFile, 0o600)
        let config = try writeConfig(
            directory: directory, name: "c", mockPort: 1, store: store(cluster, database: database, passwordFile: passwordFile))
        let started = ContinuousClock.now
        let child = try ChildProcess(ChildProcess.gatewayBinary, ["serve", "--config", config], includeStandardError: true)
        let output = await onThread { child.readToEnd(timeout: .seconds(30)) }
        let status = await onThread { child.wait() }
        XCTAssertNotEqual(status, 0)
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(15))
        XCTAssertTrue(output.contains("PostgreSQL error 28P01"), output)
        XCTAssertFalse(output.contains(wrong), output)
    }
}
