import APNs
import APNsCore
import HTTP2Engine
import MockAPNs
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import XCTest

/// The client against the mock APNs over real TLS on loopback.
final class DeliveryTests: XCTestCase {
    private var group: MultiThreadedEventLoopGroup!
    private var mock: MockAPNsServer!

    override func setUp() async throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
    }

    override func tearDown() async throws {
        try await mock?.shutdown()
        try await group.shutdownGracefully()
    }

    private func startMock(_ adjust: (inout MockAPNsConfiguration) -> Void = { _ in }) async throws {
        var configuration = try TestCredentials.mockConfiguration()
        adjust(&configuration)
        mock = try await MockAPNsServer.start(configuration: configuration, group: group)
    }

    func testTenThousandNotificationsOverFourConnectionsAllSucceedWithTheirAPNsIDs() async throws {
        try await startMock { $0.recordBodies = false }
        let client = try APNsClient(
            configuration: TestCredentials.clientConfiguration(port: mock.port, connections: 4, tokens: TestCredentials.tokenCache()),
            group: group
        )
        client.start()
        try await client.waitUntilReady(connections: 4)
        let notifications = (0..<10_000).map { makeNotification(token: deviceToken($0)) }
        let results = await client.send(batch: notifications)

        XCTAssertEqual(results.count, notifications.count)
        for (notification, result) in zip(notifications, results) {
            XCTAssertEqual(result.status, 200, "\(result)")
            XCTAssertEqual(result.apnsID, notification.apnsID)
        }
        let stats = mock.stats
        XCTAssertEqual(stats.streamsReceived, 10_000)
        XCTAssertEqual(stats.streamLimitViolations, 0)
        XCTAssertEqual(Set(mock.received.map(\.connectionID)).count, 4, "the load spreads over every connection")
        XCTAssertEqual(client.statistics.succeeded, 10_000)
        XCTAssertEqual(client.statistics.outstanding, 0)
        await client.shutdown()
    }

    func testStreamLimitStartsAtOneAndFollowsTheServersSettings() async throws {
        try await startMock {
            $0.initialMaxConcurrentStreams = 1
            $0.authenticatedMaxConcurrentStreams = 20
            $0.faults.responseDelay = .milliseconds(2)
        }
        let client = try APNsClient(
            configuration: TestCredentials.clientConfiguration(port: mock.port, tokens: TestCredentials.tokenCache()),
            group: group
        )
        client.start()
        try await client.waitUntilReady()
        XCTAssertEqual(client.statistics.pool.streamLimits, [1], "one stream until the first authenticated success")
        let results = await client.send(batch: (0..<500).map { makeNotification(token: deviceToken($0)) })
        XCTAssertTrue(results.allSatisfy { $0.status == 200 })
        let stats = mock.stats
        XCTAssertEqual(stats.streamLimitViolations, 0)
        XCTAssertEqual(stats.maxConcurrentStreamsObserved, 20, "the client fills the raised limit and never exceeds it")
        XCTAssertEqual(client.statistics.pool.streamLimits, [20])
        await client.shutdown()
    }

    func testAPNsErrorsAreReportedWithReasonAndTimestampAndNeverRetried() async throws {
        let dead = deviceToken(7)
        try await startMock { $0.unregisteredTokens = [dead: 1_700_000_000_000] }
        let client = try APNsClient(
            configuration: TestCredentials.clientConfiguration(port: mock.port, tokens: TestCredentials.tokenCache()),
            group: group
        )
        client.start()
        let otherTopic = APNsNotification(
            deviceToken: deviceToken(1), payload: ByteBuffer(string: "{}"), pushType: .alert, topic: "com.other.app"
        )
        let results = await client.send(batch: [makeNotification(token: dead), otherTopic, makeNotification(token: "zz")])
        XCTAssertEqual(results[0].status, 410)
        XCTAssertEqual(results[0].reason, "Unregistered")
        XCTAssertEqual(results[0].timestamp, 1_700_000_000_000)
        XCTAssertEqual(results[0].attempts, 1)
        XCTAssertEqual(results[1].status, 400)
        XCTAssertEqual(results[1].reason, "TopicDisallowed")
        XCTAssertEqual(results[2].source, .local, "a malformed token never reaches APNs")
        XCTAssertEqual(results[2].reason, "BadDeviceToken")
        XCTAssertEqual(mock.stats.streamsReceived, 2)
        await client.shutdown()
    }

    func testExpiredProviderTokenGetsAFreshTokenAndOneRetry() async throws {
        // The mock takes tokens up to 10 minutes old; the client's first token is 30 minutes old, young enough
        // for the client's own 50-minute refresh, so APNs's answer is what makes it sign a new one.
        try await startMock { $0.tokenMaxAge = 600 }
        let clock = TestClock()
        let realNow = clock.value
        clock.value = realNow - 30 * 60
        let tokens = try TestCredentials.tokenCache(clock: clock.read)
        _ = tokens.authorization()
        let client = try APNsClient(
            configuration: TestCredentials.clientConfiguration(port: mock.port, tokens: tokens),
            group: group
        )
        client.start()
        try await client.waitUntilReady()
        let tokenBefore = client.statistics.tokenRefreshes
        clock.value = realNow
        let result = await client.send(makeNotification())
        XCTAssertEqual(result.status, 200, "\(result)")
        XCTAssertEqual(result.attempts, 2)
        XCTAssertEqual(client.statistics.tokenRefreshes, tokenBefore + 1)
        XCTAssertEqual(mock.received.map(\.reason), ["ExpiredProviderToken", nil])
        await client.shutdown()
    }

    func testCertificateFromAnUnknownCAIsAClearConnectError() async throws {
        try await startMock()
        let client = try APNsClient(
            configuration: TestCredentials.clientConfiguration(
                port: mock.port, caFile: Repository.path("certs/other-ca.pem"), tokens: TestCredentials.tokenCache()
            ),
            group: group
        )
        client.start()
        do {
            try await client.waitUntilReady()
            XCTFail("trusted a certificate from an unknown CA")
        } catch {
            XCTAssertTrue("\(error)".contains("certificate verification failed"), "\(error)")
        }
        let result = await client.send(makeNotification())
        XCTAssertEqual(result.source, .gateway)
        XCTAssertEqual(result.reason, GatewayReason.connectFailed.rawValue)
        XCTAssertTrue(result.detail?.contains("certificate") ?? false, "\(result)")
        await client.shutdown()
    }

    func testCertificateAuthenticationWithPKCS12AndPEM() async throws {
        try await startMock { $0.trustRootsForClientCertificates = Repository.path("certs/test-ca.pem") }
        let identities: [TLSConfiguration.ClientCertificate] = [
            .pkcs12(path: Repository.path("certs/client.p12"), password: "test"),
            .pem(certificateChain: Repository.path("certs/client.pem"), privateKey: Repository.path("certs/client.key")),
        ]
        for identity in identities {
            var configuration = TestCredentials.clientConfiguration(port: mock.port, tokens: try TestCredentials.tokenCache())
            configuration.authentication = .certificate(identity)
            let client = try APNsClient(configuration: configuration, group: group)
            client.start()
            let result = await client.send(makeNotification())
            XCTAssertEqual(result.status, 200, "\(identity): \(result)")
            await client.shutdown()
        }
        XCTAssertTrue(mock.received.allSatisfy { $0.headers["authorization"] == nil }, "no provider token with certificate auth")
    }

    func testAWrongPKCS12PasswordIsAClearSetupError() throws {
        var configuration = TestCredentials.clientConfiguration(port: 1, tokens: try TestCredentials.tokenCache())
        configuration.authentication = .certificate(.pkcs12(path: Repository.path("certs/client.p12"), password: "wrong"))
        XCTAssertThrowsError(try APNsClient(configuration: configuration, group: group)) { error in
            XCTAssertTrue("\(error)".contains("wrong password"), "\(error)")
        }
    }

    func testShutdownLetsOutstandingNotificationsFinishWithinTheGraceAndAnswersTheRest() async throws {
        try await startMock { $0.faults.responseDelay = .milliseconds(300) }
        let client = try APNsClient(
            configuration: TestCredentials.clientConfiguration(port: mock.port, tokens: TestCredentials.tokenCache()),
            group: group
        )
        client.start()
        try await client.waitUntilReady()
        let collector = ResultsBox()
        let first = (0..<50).map { makeNotification(token: deviceToken($0)) }
        await client.send(first) { index, result in collector.add(index, result) }
        await client.shutdown(grace: .seconds(5))
        XCTAssertEqual(collector.results.count, 50, "every outstanding notification was answered")
        XCTAssertTrue(collector.results.values.allSatisfy { $0.status == 200 }, "slow answers arrived within the grace")
        let late = await client.send(makeNotification())
        XCTAssertEqual(late.reason, GatewayReason.shutdown.rawValue)

        // With a grace too short for the stalled server, what is left is answered with Shutdown.
        try await mock.shutdown()
        try await startMock { $0.faults.stallAfterStreams = 1 }
        let stalled = try APNsClient(
            configuration: TestCredentials.clientConfiguration(port: mock.port, tokens: TestCredentials.tokenCache()),
            group: group
        )
        stalled.start()
        try await stalled.waitUntilReady()
        let box = ResultsBox()
        await stalled.send((0..<10).map { makeNotification(token: deviceToken($0)) }) { box.add($0, $1) }
        await stalled.shutdown(grace: .milliseconds(300))
        XCTAssertEqual(box.results.count, 10)
        XCTAssertEqual(box.results.values.filter { $0.source == .gateway }.count, 9)
    }
}

final class ResultsBox: Sendable {
    private let state = NIOLockedValueBox<[Int: APNsResult]>([:])
    func add(_ index: Int, _ result: APNsResult) {
        state.withLockedValue { precondition($0[index] == nil, "two results for one notification"); $0[index] = result }
    }
    var results: [Int: APNsResult] { state.withLockedValue { $0 } }
}
