import APNsCore
import APNsGatewayClient
import Foundation
import GatewayTestSupport
import MockAPNs
import XCTest

/// SIGHUP reloads the running daemon's configuration: the provider key rotates under load without losing a
/// notification, and a configuration that does not validate leaves the running one in force.
final class GatewayReloadProcessTests: XCTestCase {
    private static let oldKeyID = "TESTKEY123"
    private static let newKeyID = "NEWKEY4567"

    /// Notifications sent while SIGHUP swaps the key; `APNS_GATEWAY_RELOAD_COUNT` sets another number (the
    /// one-off 100,000 run of docs/operations.md). Small by default, so that the suite stays quick.
    private var count: Int {
        ProcessInfo.processInfo.environment["APNS_GATEWAY_RELOAD_COUNT"].flatMap(Int.init) ?? 5_000
    }

    private func config(keyID: String, keyPath: String, level: String, mockPort: Int) -> String {
        """
        {
          "environment": {"host": "127.0.0.1", "port": \(mockPort), "serverName": "localhost", "caFile": "\(certificatePath("test-ca.pem"))"},
          "apps": [{"name": "demo", "teamId": "TEAM123456", "keyId": "\(keyID)", "keyPath": "\(keyPath)", "bundleId": "com.example.app"}],
          "pool": {"connections": 2},
          "timeouts": {"requestSeconds": 600},
          "intake": {"socketPath": "gw.sock"},
          "log": {"level": "\(level)"}
        }
        """
    }

    /// Writes the configuration the way an operator's tool should: a new file renamed over the old one.
    private func install(_ text: String, in directory: String) throws {
        try text.write(toFile: directory + "/config.json", atomically: true, encoding: .utf8)
    }

    /// Sends `notifications` as requests of 1,000 on one intake connection, up to 8 requests at a time.
    private static func send(_ notifications: [GatewayNotification], socket: String) async throws -> [GatewayResult] {
        let client = try await GatewayClient.connect(path: socket)
        let chunks = stride(from: 0, to: notifications.count, by: 1000).map { Array(notifications[$0..<min($0 + 1000, notifications.count)]) }
        var results = [[GatewayResult]](repeating: [], count: chunks.count)
        try await withThrowingTaskGroup(of: (Int, [GatewayResult]).self) { tasks in
            var next = 0
            while next < min(8, chunks.count) {
                let index = next
                tasks.addTask { (index, try await client.send(chunks[index])) }
                next += 1
            }
            for try await (index, chunk) in tasks {
                results[index] = chunk
                if next < chunks.count {
                    let index = next
                    tasks.addTask { (index, try await client.send(chunks[index])) }
                    next += 1
                }
            }
        }
        await client.close()
        return results.flatMap { $0 }
    }

    private func notifications(_ range: Range<Int>) -> [GatewayNotification] {
        range.map { index in
            var notification = GatewayNotification(token: deviceToken(index), payload: #"{"aps":{"alert":"n"}}"#)
            notification.apnsID = String(format: "00000000-0000-4000-8000-%012x", index)
            return notification
        }
    }

    func testSIGHUPRotatesTheKeyUnderLoadWithOneResultEachAndKeepsTheOldConfigurationOnAnError() async throws {
        let binary = ChildProcess.gatewayBinary
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: binary), "build apns-gateway first: \(binary)")
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // The rotated-to key: a fresh P-256 key made by openssl, as an operator would get a new .p8 from Apple.
        let keygen = try ChildProcess(
            "/usr/bin/openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", directory + "/new.p8"])
        let keygenStatus = await onThread { keygen.wait() }
        XCTAssertEqual(keygenStatus, 0)
        chmod(directory + "/new.p8", 0o600)
        try FileManager.default.copyItem(atPath: certificatePath("AuthKey_TESTKEY123.p8"), toPath: directory + "/old.p8")
        chmod(directory + "/old.p8", 0o600)
        let newKey = try APNsSigningKey(contentsOfFile: directory + "/new.p8")

        var mockConfiguration = try IntakeHarness.mockConfiguration()
        mockConfiguration.recordRequests = false
        mockConfiguration.recordBodies = false
        mockConfiguration.providerKeys.append(MockProviderKey(keyID: Self.newKeyID, teamID: "TEAM123456", publicKeyPEM: newKey.publicKeyPEM))
        let mock = try await MockAPNsServer.start(configuration: mockConfiguration)
        try install(config(keyID: Self.oldKeyID, keyPath: "old.p8", level: "warning", mockPort: mock.port), in: directory)
        // A 100,000 run on a busy debug build takes minutes: the watchdog's budget grows with the count.
        let child = try ChildProcess(binary, ["serve", "--config", directory + "/config.json"], lifetime: .seconds(300 + count / 100))
        let ready = await onThread { child.readLine() }
        XCTAssertEqual(ready, "apns-gateway ready on \(directory)/gw.sock")
        let socket = directory + "/gw.sock"

        // Under load: swap the key once a quarter of the notifications reached APNs.
        let total = count
        let batch = notifications(0..<total)
        let started = ContinuousClock.now
        async let sending = Self.send(batch, socket: socket)
        let deadline = ContinuousClock.now + .seconds(120)
        while mock.stats.streamsReceived < total / 4 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        try install(config(keyID: Self.newKeyID, keyPath: "new.p8", level: "error", mockPort: mock.port), in: directory)
        child.signal(SIGHUP)
        let reloaded = await onThread { child.readLine() }
        let receivedAtReload = mock.stats.streamsReceived
        let results = try await sending
        let elapsed = ContinuousClock.now - started

        XCTAssertEqual(reloaded, "apns-gateway reloaded")
        XCTAssertEqual(results.count, total, "one result each")
        XCTAssertEqual(results.map(\.apnsID), batch.map(\.apnsID), "each notification's own result, in order")
        XCTAssertEqual(results.filter(\.isSuccess).count, total, "\(results.first { !$0.isSuccess }.map { "\($0)" } ?? "")")
        let byKey = mock.stats.acceptedByKeyID
        XCTAssertEqual(byKey.values.reduce(0, +), total, "every notification reached APNs once: \(byKey)")
        XCTAssertGreaterThan(byKey[Self.oldKeyID] ?? 0, 0, "\(byKey)")
        XCTAssertGreaterThan(byKey[Self.newKeyID] ?? 0, 0, "the key changed during the load: \(byKey)")
        print("reload under load: \(total) notifications in \(elapsed), SIGHUP after \(receivedAtReload) reached APNs; by key \(byKey)")

        // Afterwards only the new key is used.
        let after = try await Self.send(notifications(total..<total + 500), socket: socket)
        XCTAssertEqual(after.filter(\.isSuccess).count, 500)
        XCTAssertEqual(mock.stats.acceptedByKeyID[Self.oldKeyID], byKey[Self.oldKeyID], "no token of the old key after the reload")
        XCTAssertEqual(mock.stats.acceptedByKeyID[Self.newKeyID], (byKey[Self.newKeyID] ?? 0) + 500)

        // A configuration that does not validate is refused; the running one stays in force.
        try install(config(keyID: "bad", keyPath: "old.p8", level: "error", mockPort: mock.port), in: directory)
        child.signal(SIGHUP)
        let refused = await onThread { child.readLine() } ?? ""
        XCTAssertTrue(refused.hasPrefix("apns-gateway reload failed: apps[0].keyId"), refused)
        let stillNew = try await Self.send(notifications(0..<100), socket: socket)
        XCTAssertEqual(stillNew.filter(\.isSuccess).count, 100)
        XCTAssertEqual(mock.stats.acceptedByKeyID[Self.newKeyID], (byKey[Self.newKeyID] ?? 0) + 600)

        child.signal(SIGTERM)
        let status = await onThread { child.wait() }
        XCTAssertEqual(status, 0)
        try await mock.shutdown()
    }
}
