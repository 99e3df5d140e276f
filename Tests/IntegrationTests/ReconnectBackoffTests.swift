@testable import APNs
import APNsCore
import MockAPNs
import NIOCore
import NIOPosix
import XCTest

/// The reconnect back-off comes from the client's configuration: a short cap lets the pool find a
/// recovered server at once, where the default (doubling up to 30 s) would wait.
final class ReconnectBackoffTests: XCTestCase {
    private var group: MultiThreadedEventLoopGroup!
    private var mock: MockAPNsServer?

    override func setUp() async throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    }

    override func tearDown() async throws {
        try await mock?.shutdown()
        try await group.shutdownGracefully()
    }

    func testTheConfiguredCapBoundsTheWaitBetweenConnectAttempts() async throws {
        // A free port with nothing listening yet: every connect is refused at once.
        let probe = try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        let port = probe.localAddress!.port!
        try await probe.close()

        var configuration = TestCredentials.clientConfiguration(port: port, tokens: try TestCredentials.tokenCache())
        configuration.reconnectInitialBackoff = .milliseconds(5)
        configuration.reconnectMaxBackoff = .milliseconds(20)
        let client = try APNsClient(configuration: configuration, group: group)
        client.start()

        // With the default back-off (from 100 ms, doubling up to 5 s, each jittered down by up to half) 25
        // back-offs take over 50 s; capped at 20 ms they take under a second.
        let deadline = ContinuousClock.now + .seconds(10)
        while client.statistics.pool.reconnectBackoffs < 25, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        XCTAssertGreaterThanOrEqual(client.statistics.pool.reconnectBackoffs, 25, "back-offs within 10 s")

        var mockConfiguration = try TestCredentials.mockConfiguration()
        mockConfiguration.port = port
        mock = try await MockAPNsServer.start(configuration: mockConfiguration, group: group)
        let result = await client.send(makeNotification())
        XCTAssertEqual(result.status, 200, "\(result)")
        XCTAssertEqual(result.attempts, 1, "the notification waited for the connection, it did not fail")

        await client.shutdown()
    }

    func testThePoolGetsTheConfiguredBackoffAndTheCapIsNeverBelowTheStart() throws {
        var configuration = TestCredentials.clientConfiguration(port: 1, tokens: try TestCredentials.tokenCache())
        configuration.reconnectInitialBackoff = .milliseconds(250)
        configuration.reconnectMaxBackoff = .seconds(3)
        XCTAssertEqual(configuration.poolConfiguration.reconnectInitialBackoff, .milliseconds(250))
        XCTAssertEqual(configuration.poolConfiguration.reconnectMaxBackoff, .seconds(3))

        configuration.reconnectMaxBackoff = .milliseconds(100)
        XCTAssertEqual(configuration.poolConfiguration.reconnectMaxBackoff, .milliseconds(250), "raised to the start")
    }
}
