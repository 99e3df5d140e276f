import APNs
import APNsCore
import GatewayTestSupport
import HTTP2Engine
import MockAPNs
import NIOCore
import NIOPosix
import XCTest

/// The client reaches the mock APNs through a real HTTP proxy (tinyproxy on loopback) with `CONNECT`; TLS runs
/// end to end through the tunnel.
final class ProxyTests: XCTestCase {
    private var group: MultiThreadedEventLoopGroup!
    private var mock: MockAPNsServer!
    private var proxy: TinyProxy?

    override func setUp() async throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        var configuration = try TestCredentials.mockConfiguration()
        configuration.recordBodies = false
        mock = try await MockAPNsServer.start(configuration: configuration, group: group)
    }

    override func tearDown() async throws {
        proxy?.stop()
        try await mock?.shutdown()
        try await group.shutdownGracefully()
    }

    private func client(through proxy: HTTP2Proxy, connections: Int = 2, timeout: TimeAmount = .seconds(30)) throws -> APNsClient {
        var configuration = TestCredentials.clientConfiguration(
            port: mock.port, connections: connections, tokens: try TestCredentials.tokenCache(), timeout: timeout)
        configuration.proxy = proxy
        return try APNsClient(configuration: configuration, group: group)
    }

    func testNotificationsGoThroughTheProxysTunnelWithBasicAuthentication() async throws {
        let proxy = try TinyProxy(credentials: ("gateway", "s3cret.pass-word"))
        self.proxy = proxy
        let client = try client(through: HTTP2Proxy(
            host: "127.0.0.1", port: proxy.port, credentials: .init(username: "gateway", password: "s3cret.pass-word")))
        client.start()
        try await client.waitUntilReady(connections: 2)
        let notifications = (0..<500).map { makeNotification(token: deviceToken($0)) }
        let results = await client.send(batch: notifications)

        XCTAssertEqual(results.filter { $0.status == 200 }.count, 500, "\(results.first { $0.status != 200 }.map { "\($0)" } ?? "")")
        XCTAssertEqual(mock.stats.streamsReceived, 500)
        XCTAssertEqual(proxy.connectTargets, Array(repeating: "127.0.0.1:\(mock.port)", count: 2), proxy.log)
        await client.shutdown()
    }

    func testWrongProxyCredentialsAreAClearConnectErrorAndNothingReachesAPNs() async throws {
        let proxy = try TinyProxy(credentials: ("gateway", "right"))
        self.proxy = proxy
        let client = try client(
            through: HTTP2Proxy(host: "127.0.0.1", port: proxy.port, credentials: .init(username: "gateway", password: "wrong")),
            connections: 1, timeout: .milliseconds(500))
        client.start()
        let result = await client.send(makeNotification())

        XCTAssertEqual(result.source, .gateway, "\(result)")
        XCTAssertNotEqual(result.status, 200)
        let lastEnd = try XCTUnwrap(client.statistics.pool.lastEnd)
        // tinyproxy answers wrong credentials with 401 (missing ones with 407): either names the credentials.
        XCTAssertTrue("\(lastEnd)".contains("the proxy refused CONNECT: 401"), "\(lastEnd)")
        XCTAssertTrue("\(lastEnd)".hasSuffix("(check the proxy credentials)"), "\(lastEnd)")
        XCTAssertEqual(mock.stats.streamsReceived, 0)
        await client.shutdown()
    }

    /// A proxy that is not listening: the connect is refused, and each notification fails within its own timeout
    /// with the reason naming the proxy, while the pool keeps trying in the background.
    func testAProxyThatIsNotListeningFailsEachNotificationInTimeWithAClearError() async throws {
        let stopped = try TinyProxy()
        let port = stopped.port
        XCTAssertTrue(stopped.stop(), "tinyproxy ends on SIGTERM")  // its port is closed from here on
        let client = try client(through: HTTP2Proxy(host: "127.0.0.1", port: port), connections: 1, timeout: .milliseconds(500))
        client.start()
        let started = ContinuousClock.now
        let results = await client.send(batch: (0..<3).map { makeNotification(token: deviceToken($0)) })
        let elapsed = ContinuousClock.now - started

        XCTAssertLessThan(elapsed, .seconds(10), "a refused connect fails the notifications at their timeout")
        XCTAssertEqual(results.count, 3)
        for result in results {
            XCTAssertEqual(result.source, .gateway, "\(result)")
            XCTAssertNil(result.status, "\(result)")
            XCTAssertTrue(
                result.detail?.contains("cannot reach the proxy 127.0.0.1:\(port): Connection refused") == true, "\(result)")
        }
        let lastEnd = try XCTUnwrap(client.statistics.pool.lastEnd)
        XCTAssertEqual("\(lastEnd)", "connection failed: cannot reach the proxy 127.0.0.1:\(port): Connection refused")
        XCTAssertEqual(mock.stats.streamsReceived, 0)
        await client.shutdown()
    }
}
