import APNs
import APNsCore
import Foundation
import MockAPNs
import NIOCore
import NIOPosix
import XCTest

/// Broadcasts and channel management under faults: one result per request, nothing delivered twice unmarked.
final class BroadcastFaultTests: XCTestCase {
    private static let bundle = ServiceHarness.bundleID

    private static func payload(_ index: Int) -> ByteBuffer {
        ByteBuffer(string: #"{"aps":{"timestamp":1,"event":"update","content-state":{"n":\#(index)}}}"#)
    }

    /// The index a recorded broadcast carried.
    private func index(of request: MockReceivedRequest) -> Int? {
        let object = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any]
        return ((object?["aps"] as? [String: Any])?["content-state"] as? [String: Any])?["n"] as? Int
    }

    private func channel(_ client: APNsClient) async throws -> String {
        let created = await client.manageChannels(.create(bundleID: Self.bundle, storagePolicy: 1))
        return try XCTUnwrap(created.channelID, "\(created)")
    }

    /// Every second request answered 503: each broadcast that met one is sent again and ends in one 200.
    func testServiceUnavailableDuringBroadcastsIsRetriedOnce() async throws {
        let harness = try await ServiceHarness.start()
        let client = harness.client
        let channel = try await channel(client)
        harness.mock.resetRecord()
        harness.mock.setFaults(MockFaults(statusEvery: MockStatusFault(every: 2, status: 503)))
        var results: [APNsBroadcastResult] = []
        for index in 0..<10 {
            results.append(await client.broadcast(APNsBroadcast(bundleID: Self.bundle, channelID: channel, payload: Self.payload(index))))
        }
        harness.mock.setFaults(MockFaults())
        XCTAssertEqual(results.map(\.status), Array(repeating: 200, count: 10))
        XCTAssertTrue(results.allSatisfy { !$0.retriedAfterUnknownOutcome }, "a 503 is an answer: nothing was delivered")
        let records = harness.mock.received
        XCTAssertEqual(records.filter { $0.responseStatus == 503 }.count, results.filter { $0.attempts == 2 }.count)
        XCTAssertEqual(records.count, results.map(\.attempts).reduce(0, +))
        for index in 0..<10 {
            XCTAssertEqual(records.filter { self.index(of: $0) == index && $0.responseStatus == 200 }.count, 1)
        }
        try await harness.stop()
    }

    /// Each connection sends GOAWAY after one answer: concurrent broadcasts move to new connections, each ends in
    /// one result, and none is delivered twice without being marked.
    func testGoAwayDuringBroadcasts() async throws {
        let harness = try await ServiceHarness.start()
        let client = harness.client
        let channel = try await channel(client)
        harness.mock.resetRecord()
        harness.mock.setFaults(MockFaults(goawayAfterStreams: 1))
        let results = await withTaskGroup(of: (Int, APNsBroadcastResult).self) { group in
            for index in 0..<20 {
                group.addTask {
                    (index, await client.broadcast(APNsBroadcast(bundleID: Self.bundle, channelID: channel, payload: Self.payload(index))))
                }
            }
            var results: [Int: APNsBroadcastResult] = [:]
            for await (index, result) in group { results[index] = result }
            return results
        }
        harness.mock.setFaults(MockFaults())
        XCTAssertEqual(results.count, 20, "one result per broadcast")
        XCTAssertGreaterThan(harness.mock.stats.goawaysSent, 0)
        let records = harness.mock.received
        for (index, result) in results {
            let delivered = records.filter { self.index(of: $0) == index && $0.responseStatus == 200 }.count
            if result.isSuccess {
                XCTAssertTrue(delivered == 1 || result.retriedAfterUnknownOutcome, "broadcast \(index) delivered \(delivered) times")
            } else {
                XCTAssertEqual(result.source, .gateway, "\(result)")
            }
        }
        XCTAssertGreaterThanOrEqual(results.values.filter(\.isSuccess).count, 18)
        try await harness.stop()
    }

    /// The management host does not answer: a channel request ends in one gateway result within its deadline, and
    /// the service answers `channel.create` without storing anything.
    func testManagementHostDown() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        // A port that was free a moment ago: nothing listens there.
        let listener = try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        let port = try XCTUnwrap(listener.localAddress?.port)
        try await listener.close()
        let tokens = try APNsProviderTokenCache(key: try ServiceHarness.signingKey(), keyID: "TESTKEY123", teamID: "TEAM123456")
        let client = try APNsClient(
            configuration: APNsClientConfiguration(
                environment: .custom(host: "127.0.0.1", port: port, serverName: "localhost", caFile: certificatePath("test-ca.pem")),
                authentication: .token(tokens), connectionCount: 1, requestTimeout: .milliseconds(500),
                connectTimeout: .milliseconds(200)),
            group: group, logger: quietLogger())
        let began = ContinuousClock.now
        let result = await client.manageChannels(.create(bundleID: Self.bundle, storagePolicy: 1))
        XCTAssertEqual(result.source, .gateway)
        XCTAssertTrue(["DeadlineExceeded", "ConnectFailed"].contains(result.reason ?? ""), "\(result)")
        XCTAssertNil(result.channelID)
        XCTAssertLessThan(ContinuousClock.now - began, .seconds(5))
        await client.shutdown(grace: .zero)
        try await group.shutdownGracefully()
    }
}
