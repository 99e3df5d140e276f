import APNsGatewayClient
import Foundation
import GatewayTestSupport
import MockAPNs
import XCTest

/// One daemon with connections to two environments (`environments.production` and `environments.sandbox`,
/// here two mocks over real TLS): `send` items and Live Activity tokens go to the connection of their own
/// environment.
final class GatewayEnvironmentsProcessTests: XCTestCase {
    private func request(_ socketPath: String, _ line: String) async throws -> [String: Any] {
        let client = try await GatewayClient.connect(path: socketPath)
        let reply = try await client.request(line: line)
        await client.close()
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(reply.line.utf8)) as? [String: Any])
    }

    func testSendItemsAndActivityTokensGoToTheConnectionOfTheirEnvironment() async throws {
        let binary = ChildProcess.gatewayBinary
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: binary), "build apns-gateway first: \(binary)")
        let production = try await IntakeHarness.startMock(record: true)
        let sandbox = try await IntakeHarness.startMock(record: true)
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.copyItem(atPath: certificatePath("AuthKey_TESTKEY123.p8"), toPath: directory + "/AuthKey.p8")
        chmod(directory + "/AuthKey.p8", 0o600)
        func endpoint(_ port: Int) -> String {
            #"{"host": "127.0.0.1", "port": \#(port), "serverName": "localhost", "caFile": "\#(certificatePath("test-ca.pem"))"}"#
        }
        let config = """
            {
              "environments": {"production": \(endpoint(production.port)), "sandbox": \(endpoint(sandbox.port))},
              "apps": [{"name": "demo", "teamId": "TEAM123456", "keyId": "TESTKEY123", "keyPath": "AuthKey.p8", "bundleId": "com.example.app"}],
              "pool": {"connections": 1},
              "intake": {"socketPath": "gw.sock"},
              "liveActivities": {"registryPath": "registry.sqlite"},
              "log": {"level": "warning"}
            }
            """
        try config.write(toFile: directory + "/config.json", atomically: true, encoding: .utf8)
        let child = try ChildProcess(binary, ["serve", "--config", directory + "/config.json"])
        let ready = await onThread { child.readLine() }
        XCTAssertEqual(ready, "apns-gateway ready on \(directory)/gw.sock")
        let socket = directory + "/gw.sock"

        // send: an item names its environment; without one it goes to the first (production).
        let payload = #"{"aps":{"alert":"hi"}}"#
        let sent = try await request(socket, """
            {"id":1,"op":"send","notifications":[
              {"token":"\(deviceToken(1))","payload":\(payload),"environment":"production"},
              {"token":"\(deviceToken(2))","payload":\(payload),"environment":"sandbox"},
              {"token":"\(deviceToken(3))","payload":\(payload)},
              {"token":"\(deviceToken(4))","payload":\(payload),"environment":"staging"}]}
            """.replacingOccurrences(of: "\n", with: ""))
        let results = try XCTUnwrap(sent["results"] as? [[String: Any]], "\(sent)")
        XCTAssertEqual(results.prefix(3).map { $0["status"] as? Int }, [200, 200, 200], "\(results)")
        XCTAssertEqual(results[3]["reason"] as? String, "BadRequest")
        XCTAssertTrue((results[3]["detail"] as? String ?? "").contains("\"environment\" must be"), "\(results[3])")
        XCTAssertEqual(Set(production.received.map(\.deviceToken)), [deviceToken(1), deviceToken(3)])
        XCTAssertEqual(sandbox.received.map(\.deviceToken), [deviceToken(2)])

        // Live Activities: each token of the activity goes to the connection of the environment it was
        // registered with.
        let productionToken = deviceToken(100)
        let developmentToken = deviceToken(200)
        for (index, (token, environment)) in [(productionToken, "production"), (developmentToken, "development")].enumerated() {
            let registered = try await request(socket, """
                {"id":\(10 + index),"op":"activity.register","activityId":"a","deviceId":"d\(index)","token":"\(token)","environment":"\(environment)"}
                """)
            XCTAssertEqual(registered["registered"] as? String, "created", "\(registered)")
        }
        let updated = try await request(socket, #"{"id":20,"op":"activity.update","activityId":"a","contentState":{"n":1}}"#)
        let counts = try XCTUnwrap(updated["counts"] as? [String: Any], "\(updated)")
        XCTAssertEqual(counts["succeeded"] as? Int, 2, "\(updated)")
        XCTAssertEqual(counts["skippedOther"] as? Int, 0)
        XCTAssertEqual(production.received.filter { $0.deviceToken == productionToken }.count, 1)
        XCTAssertEqual(sandbox.received.filter { $0.deviceToken == developmentToken }.count, 1)
        XCTAssertFalse(production.received.contains { $0.deviceToken == developmentToken })
        XCTAssertFalse(sandbox.received.contains { $0.deviceToken == productionToken })

        child.signal(SIGTERM)
        let status = await onThread { child.wait() }
        XCTAssertEqual(status, 0)
        try await production.shutdown()
        try await sandbox.shutdown()
    }
}
