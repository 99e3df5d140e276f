import APNs
import APNsCore
import MockAPNs
import NIOCore
import NIOPosix
import XCTest

/// Every scripted fault of the mock is survived: one final result per notification, no hang, and no
/// notification delivered twice unless its result says it was resent after an unknown outcome.
final class FaultTests: XCTestCase {
    private var group: MultiThreadedEventLoopGroup!
    private var mock: MockAPNsServer!

    override func setUp() async throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
    }

    override func tearDown() async throws {
        try await mock?.shutdown()
        try await group.shutdownGracefully()
    }

    private struct Run {
        var results: [APNsResult]
        var notifications: [APNsNotification]
        var received: [MockReceivedRequest]
    }

    /// Sends `count` notifications over 2 connections with `faults` active and checks the accounting.
    private func run(
        _ faults: MockFaults,
        count: Int = 1000,
        timeout: TimeAmount = .seconds(60),
        adjust: (inout APNsClientConfiguration) -> Void = { _ in }
    ) async throws -> Run {
        var configuration = try TestCredentials.mockConfiguration()
        configuration.faults = faults
        configuration.recordBodies = false
        mock = try await MockAPNsServer.start(configuration: configuration, group: group)
        var clientConfiguration = TestCredentials.clientConfiguration(
            port: mock.port, connections: 2, tokens: try TestCredentials.tokenCache(), timeout: timeout
        )
        adjust(&clientConfiguration)
        let client = try APNsClient(configuration: clientConfiguration, group: group)
        client.start()
        let notifications = (0..<count).map { makeNotification(token: deviceToken($0)) }
        let results = await client.send(batch: notifications)
        let statistics = client.statistics
        await client.shutdown()

        XCTAssertEqual(results.count, count, "one result per notification")
        XCTAssertEqual(statistics.accepted, count)
        XCTAssertEqual(statistics.answeredByAPNs + statistics.rejectedLocally + statistics.failedInGateway, count)
        XCTAssertEqual(statistics.outstanding, 0)

        let received = mock.received
        var deliveries: [String: Int] = [:]
        for request in received where request.responseStatus == 200 {
            deliveries[request.apnsID, default: 0] += 1
        }
        for (notification, result) in zip(notifications, results) {
            let delivered = deliveries[notification.apnsID!, default: 0]
            if result.retriedAfterUnknownOutcome {
                XCTAssertLessThanOrEqual(delivered, result.attempts)
            } else {
                XCTAssertLessThanOrEqual(delivered, 1, "delivered twice without being marked: \(result)")
            }
            if result.status == 200 {
                XCTAssertGreaterThanOrEqual(delivered, 1, "a 200 the mock never gave")
                XCTAssertEqual(result.apnsID, notification.apnsID)
            }
        }
        return Run(results: results, notifications: notifications, received: received)
    }

    func testGoAwayInTheMiddleOfABatch() async throws {
        let run = try await run(MockFaults(goawayAfterStreams: 150))
        XCTAssertTrue(run.results.allSatisfy { $0.status == 200 }, "GOAWAY'd streams are resent elsewhere")
        XCTAssertGreaterThan(mock.stats.goawaysSent, 0)
        XCTAssertGreaterThan(mock.stats.connectionsAccepted, 2, "the pool reconnected")
    }

    func testAbruptCloseMidBatch() async throws {
        let run = try await run(MockFaults(closeAfterStreams: 200))
        XCTAssertTrue(run.results.allSatisfy { $0.status == 200 || $0.source == .gateway }, "\(run.results.filter { $0.status != 200 }.prefix(3))")
        for result in run.results where result.status != 200 {
            // Each connection dies after 200 streams, so a notification can be lost on every attempt.
            XCTAssertEqual(result.reason, GatewayReason.retriesExhausted.rawValue, "\(result)")
            XCTAssertEqual(result.attempts, 4, "lost streams are retried until the attempts run out")
        }
        XCTAssertGreaterThan(run.results.filter { $0.status == 200 }.count, 200, "lost streams are retried")
        XCTAssertTrue(run.results.contains { $0.retriedAfterUnknownOutcome }, "streams lost after sending are resent and marked")
    }

    func testResetStreams() async throws {
        let run = try await run(MockFaults(resetStreamEvery: 10))
        for result in run.results where result.status != 200 {
            // Every tenth stream is reset, so a notification can meet a reset on all four attempts.
            XCTAssertEqual(result.reason, GatewayReason.retriesExhausted.rawValue, "\(result)")
            XCTAssertEqual(result.attempts, 4)
        }
        XCTAssertGreaterThan(run.results.filter { $0.status == 200 }.count, 900, "reset streams are retried")
        XCTAssertTrue(run.results.contains { $0.retriedAfterUnknownOutcome && $0.attempts > 1 })
    }

    func testStatusStorms() async throws {
        for status in [429, 500, 503] {
            let run = try await run(MockFaults(statusEvery: MockStatusFault(every: 3, status: status)), count: 300)
            for result in run.results where result.status != 200 {
                // Every third answer is the fault, so a few notifications meet it on all four attempts.
                XCTAssertEqual(result.status, status)
                XCTAssertEqual(result.attempts, 4, "retried until the attempts ran out")
            }
            XCTAssertGreaterThan(run.results.filter { $0.status == 200 }.count, 270, "status \(status) is retried")
            XCTAssertTrue(run.results.contains { $0.attempts > 1 }, "status \(status)")
            XCTAssertFalse(run.results.contains { $0.retriedAfterUnknownOutcome }, "an APNs answer is a known outcome")
            try await mock.shutdown()
            mock = nil
        }
    }

    func testStalledServerHitsDeadlinesAndThePingTimeout() async throws {
        let run = try await run(MockFaults(stallAfterStreams: 50), count: 200, timeout: .seconds(3)) {
            $0.pingInterval = .milliseconds(500)
            $0.pingTimeout = .milliseconds(500)
        }
        let deadline = run.results.filter { $0.reason == GatewayReason.deadlineExceeded.rawValue || $0.reason == GatewayReason.retriesExhausted.rawValue }
        XCTAssertEqual(deadline.count + run.results.filter { $0.status == 200 }.count, 200, "every result is a success or a gateway failure")
        XCTAssertFalse(deadline.isEmpty, "stalled streams end at their deadline")
    }

    /// Both first connections stall (no answer, not even PING) with streams in flight; their replacements do not.
    /// With a short stall setting the stalled connections are noticed and replaced before the request deadline:
    /// the streams they never answered are resent, marked as possible duplicates, and every notification is
    /// delivered. Without stall detection (the keep-alive PING comes after 60 s without a read) every stream on a
    /// stalled connection ends `DeadlineExceeded`.
    func testAStalledConnectionIsReplacedBeforeTheRequestDeadline() async throws {
        let timeout = TimeAmount.seconds(30)
        let started = ContinuousClock.now
        let run = try await run(MockFaults(stallAfterStreams: 100, stallConnections: 2), count: 1000, timeout: timeout) {
            $0.stallTimeout = .seconds(2)
            $0.stallPingTimeout = .seconds(2)
        }
        let elapsed = ContinuousClock.now - started
        let failed = run.results.filter { $0.status != 200 }
        XCTAssertEqual(failed.count, 0, "every notification is delivered, none waits for its deadline: \(failed.prefix(3))")
        // Each stall costs about 4 s; the bound is loose because the test machine may be busy.
        XCTAssertLessThan(elapsed, .seconds(timeout.nanoseconds / 1_000_000_000), "done before the first deadline")
        XCTAssertGreaterThanOrEqual(mock.stats.connectionsAccepted, 4, "both stalled connections were replaced")
        XCTAssertTrue(run.received.contains { $0.responseStatus == nil }, "the stalled connections held streams")
        let resent = run.results.filter { $0.retriedAfterUnknownOutcome }
        XCTAssertFalse(resent.isEmpty, "streams sent on a stalled connection are resent and marked")
        for result in resent {
            XCTAssertGreaterThanOrEqual(result.attempts, 2, "\(result)")
        }
    }

    func testSlowResponsesStillComplete() async throws {
        let run = try await run(MockFaults(responseDelay: .milliseconds(200)), count: 300)
        XCTAssertTrue(run.results.allSatisfy { $0.status == 200 })
    }
}
