import GatewayTestSupport
import APNsGatewayClient
import Foundation
import MockAPNs
import XCTest

/// The real `apns-gateway` binary with `metrics.listen` and JSON logs: the endpoint answers, counts the
/// notifications sent through the socket, and every line on standard error is a JSON object.
final class GatewayObservabilityProcessTests: XCTestCase {
    func testServeWithMetricsEndpointAndJSONLogs() async throws {
        let binary = ChildProcess.gatewayBinary
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: binary), "build apns-gateway first: \(binary)")
        let mock = try await IntakeHarness.startMock()
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.copyItem(atPath: certificatePath("AuthKey_TESTKEY123.p8"), toPath: directory + "/AuthKey.p8")
        chmod(directory + "/AuthKey.p8", 0o600)
        let port = try freeLoopbackPort()
        let config = """
            {
              "environment": {"host": "127.0.0.1", "port": \(mock.port), "serverName": "localhost", "caFile": "\(certificatePath("test-ca.pem"))"},
              "apps": [{"name": "demo", "teamId": "TEAM123456", "keyId": "TESTKEY123", "keyPath": "AuthKey.p8", "bundleId": "com.example.app"}],
              "pool": {"connections": 1},
              "intake": {"socketPath": "gw.sock"},
              "log": {"format": "json", "level": "info"},
              "metrics": {"listen": "127.0.0.1:\(port)"}
            }
            """
        try config.write(toFile: directory + "/config.json", atomically: true, encoding: .utf8)
        let child = try ChildProcess(binary, ["serve", "--config", directory + "/config.json"], includeStandardError: true)
        var earlyLines: [String] = []
        let ready = await onThread { () -> (String?, [String]) in
            var lines: [String] = []
            while let line = child.readLine() {
                if line.hasPrefix("apns-gateway ready on") { return (line, lines) }
                lines.append(line)
            }
            return (nil, lines)
        }
        earlyLines = ready.1
        XCTAssertEqual(ready.0, "apns-gateway ready on \(directory)/gw.sock")

        let becameReady = await eventually { await httpGet(port: port, path: "/readyz")?.status == 200 }
        XCTAssertTrue(becameReady)
        let alive = await httpGet(port: port, path: "/healthz")
        XCTAssertEqual(alive?.status, 200)
        let client = try await GatewayClient.connect(path: directory + "/gw.sock")
        let results = try await client.send((0..<50).map { GatewayNotification(token: deviceToken($0), payload: #"{"aps":{"alert":"hi"}}"#) })
        XCTAssertEqual(results.filter { $0.status == 200 }.count, 50)
        await client.close()
        let answer = await httpGet(port: port, path: "/metrics")
        let scrape = PrometheusScrape(answer?.body ?? "")
        XCTAssertEqual(scrape.count("apns_gateway_notifications_succeeded_total", ["app": "demo"]), 50)
        XCTAssertEqual(scrape.count("apns_gateway_end_to_end_seconds_count", ["app": "demo"]), 50)
        XCTAssertEqual(scrape.count("apns_gateway_intake_requests_total"), 1)
        XCTAssertEqual(scrape.value("apns_gateway_connections", ["app": "demo", "state": "ready"]), 1)

        child.signal(SIGTERM)
        let rest = await onThread { child.readToEnd() }
        let status = await onThread { child.wait() }
        XCTAssertEqual(status, 0)
        try await mock.shutdown()

        let logLines = (earlyLines + rest.split(separator: "\n").map(String.init)).filter { !$0.isEmpty }
        XCTAssertFalse(logLines.isEmpty)
        var messages: [String] = []
        for line in logLines {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                XCTFail("not a JSON log line: \(line)")
                continue
            }
            XCTAssertNotNil(object["ts"])
            XCTAssertNotNil(object["level"])
            if let message = object["msg"] as? String { messages.append(message) }
            if object["msg"] as? String == "connection ready" { XCTAssertEqual(object["app"] as? String, "demo") }
        }
        XCTAssertTrue(messages.contains("connecting"), "\(messages)")
        XCTAssertTrue(messages.contains("connection ready"), "\(messages)")
        XCTAssertTrue(messages.contains("operations endpoint listening"), "\(messages)")
        XCTAssertFalse(messages.contains("notification failed"), "nothing per push at info")
    }

    /// `log` and `metrics` are checked like every other key: bad values name the key, and the older `logLevel`
    /// cannot be given together with `log.level`.
    func testLogAndMetricsKeysAreValidated() async throws {
        let binary = ChildProcess.gatewayBinary
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.copyItem(atPath: certificatePath("AuthKey_TESTKEY123.p8"), toPath: directory + "/AuthKey.p8")
        chmod(directory + "/AuthKey.p8", 0o600)
        func check(_ extra: String) async throws -> (status: Int32, output: String) {
            let config = """
                {
                  "environment": {"host": "127.0.0.1", "port": 1, "serverName": "localhost", "caFile": "\(certificatePath("test-ca.pem"))"},
                  "apps": [{"name": "demo", "teamId": "TEAM123456", "keyId": "TESTKEY123", "keyPath": "AuthKey.p8", "bundleId": "com.example.app"}],
                  "intake": {"socketPath": "gw.sock"}\(extra)
                }
                """
            try config.write(toFile: directory + "/config.json", atomically: true, encoding: .utf8)
            let child = try ChildProcess(binary, ["check-config", "--config", directory + "/config.json"], includeStandardError: true)
            let output = await onThread { child.readToEnd() }
            let status = await onThread { child.wait() }
            return (status, output)
        }
        let badFormat = try await check(#", "log": {"format": "yaml"}"#)
        XCTAssertNotEqual(badFormat.status, 0)
        XCTAssertTrue(badFormat.output.contains(#"log.format: must be "logfmt" or "json""#), badFormat.output)
        let twice = try await check(#", "logLevel": "info", "log": {"level": "debug"}"#)
        XCTAssertTrue(twice.output.contains("log.level: give the level once"), twice.output)
        let badLevel = try await check(#", "log": {"level": "loud"}"#)
        XCTAssertTrue(badLevel.output.contains("log.level: must be one of trace"), badLevel.output)
        let noPort = try await check(#", "metrics": {"listen": "9464"}"#)
        XCTAssertTrue(noPort.output.contains("metrics.listen: must be host:port"), noPort.output)
        let typo = try await check(#", "metrics": {"listen": "127.0.0.1:9464", "lisen": 1}"#)
        XCTAssertTrue(typo.output.contains("metrics.lisen: unknown key"), typo.output)
        let good = try await check(#", "log": {"format": "json", "level": "debug"}, "metrics": {"listen": "[::1]:9464"}"#)
        XCTAssertEqual(good.status, 0, good.output)
        let old = try await check(#", "logLevel": "warning""#)
        XCTAssertEqual(old.status, 0, old.output)
    }
}
