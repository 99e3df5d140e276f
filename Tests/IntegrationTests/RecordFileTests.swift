import APNs
import APNsCore
import Foundation
import MockAPNs
import NIOCore
import NIOPosix
import XCTest

/// The mock's record file: one line per decided request, with the apns-id, the outcome, the connection and the
/// device token, so that a process outside can count deliveries per notification and per device.
final class RecordFileTests: XCTestCase {
    private var group: MultiThreadedEventLoopGroup!
    private var mock: MockAPNsServer?

    override func setUp() async throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    }

    override func tearDown() async throws {
        try await mock?.shutdown()
        try await group.shutdownGracefully()
    }

    func testEveryAnsweredRequestIsALineWithItsAPNsIDOutcomeAndToken() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("records-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        var configuration = try TestCredentials.mockConfiguration()
        configuration.recordFilePath = path
        configuration.faults.statusEvery = MockStatusFault(every: 3, status: 503)
        let server = try await MockAPNsServer.start(configuration: configuration, group: group)
        mock = server
        var clientConfiguration = TestCredentials.clientConfiguration(port: server.port, tokens: try TestCredentials.tokenCache())
        clientConfiguration.retry = APNsRetryPolicy(maxAttempts: 1)
        let client = try APNsClient(configuration: clientConfiguration, group: group)
        client.start()
        let notifications = (0..<6).map { makeNotification(token: deviceToken($0)) }
        let results = await client.send(batch: notifications)
        await client.shutdown()
        try await server.shutdown()
        mock = nil

        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { $0.split(separator: " ") }
        XCTAssertTrue(lines.allSatisfy { $0.count == 5 }, "\(lines)")
        XCTAssertEqual(lines.filter { $0[2] == "connect" }.count, 1)
        XCTAssertTrue(lines.filter { $0[2] == "connect" }.allSatisfy { $0[1] == "-" && $0[4] == "-" })
        let requests = lines.filter { $0[2] != "connect" && $0[2] != "goaway" }
        XCTAssertEqual(requests.count, 6)
        for (notification, result) in zip(notifications, results) {
            let line = requests.first { String($0[1]) == notification.apnsID?.lowercased() }
            XCTAssertEqual(line.map { String($0[4]) }, notification.deviceToken)
            XCTAssertEqual(line.map { String($0[2]) }, result.status.map(String.init))
        }
        XCTAssertEqual(requests.filter { $0[2] == "503" }.count, 2, "every 3rd request")
    }
}
