import GatewayTestSupport
import HTTP2Engine
import NIOCore
import NIOPosix
import XCTest

/// The engine against nghttpd, an HTTP/2 server written by other people.
final class NGHTTPDInteropTests: XCTestCase {
    private var group: MultiThreadedEventLoopGroup!
    private var server: ExternalServer!

    override func setUp() async throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        server = try ExternalServer.nghttpd()
    }

    override func tearDown() async throws {
        server.stop()
        try await group.shutdownGracefully()
    }

    private func makePool(connections: Int = 1, trust: TLSConfiguration.Trust? = nil) throws -> HTTP2ConnectionPool {
        try HTTP2ConnectionPool(
            configuration: HTTP2PoolConfiguration(
                host: "127.0.0.1",
                port: server.port,
                serverName: "localhost",
                tls: TLSConfiguration(trust: trust ?? .caFile(Repository.path("certs/test-ca.pem"))),
                connectionCount: connections,
                maxQueued: 20_000,
                connectStagger: .milliseconds(10)
            ),
            group: group
        )
    }

    func testManyRequestsOverOneConnectionAllSucceedAndEchoTheBody() async throws {
        let pool = try makePool()
        pool.start()
        try await pool.waitUntilReady()
        let count = 5_000
        let countdown = Countdown(count)
        let authority = pool.configuration.authority
        let exchanges = (0..<count).map { i in
            TestExchange(path: "/3/device/\(i)", authority: authority, body: "{\"n\":\(i)}", onComplete: countdown.tick)
        }
        XCTAssertEqual(pool.execute(contentsOf: exchanges.map { $0 as any HTTP2Exchange }), count)
        await countdown.wait()
        for (i, exchange) in exchanges.enumerated() {
            XCTAssertEqual(exchange.completions, 1)
            guard case .success(let response) = exchange.result else {
                return XCTFail("exchange \(i): \(String(describing: exchange.result))")
            }
            XCTAssertEqual(response.status, 200)
            XCTAssertEqual(response.body.map { String(buffer: $0) }, "{\"n\":\(i)}")
        }
        let stats = pool.statistics
        XCTAssertEqual(stats.ready, 1)
        XCTAssertEqual(stats.connectionsOpened, 1)
        // nghttpd's connection window is HTTP/2's initial 65,535; its WINDOW_UPDATEs only acknowledged the bodies.
        XCTAssertEqual(stats.serverWindowsBySlot, [65_535])
        await pool.shutdown()
    }

    func testServerStreamLimitIsReadFromSettings() async throws {
        server.stop()
        server = try ExternalServer.nghttpd(extraArguments: ["-m", "7", "-W", "20"])
        let pool = try makePool()
        pool.start()
        try await pool.waitUntilReady()
        XCTAssertEqual(pool.statistics.streamLimits, [7])
        let exchange = TestExchange(path: "/x", authority: pool.configuration.authority)
        pool.execute(exchange)
        guard case .success = await exchange.wait() else { return XCTFail("\(String(describing: exchange.result))") }
        // `-W 20`: a connection window of 2^20 - 1, announced with a WINDOW_UPDATE beyond HTTP/2's 65,535.
        XCTAssertEqual(pool.statistics.serverWindowsBySlot, [(1 << 20) - 1])
        await pool.shutdown()
    }

    func testUnknownCertificateAuthorityIsAClearError() async throws {
        let pool = try makePool(trust: .caFile(Repository.path("certs/other-ca.pem")))
        pool.start()
        do {
            try await pool.waitUntilReady()
            XCTFail("connected to a server whose certificate the CA did not sign")
        } catch {
            XCTAssertTrue("\(error)".contains("certificate verification failed"), "\(error)")
        }
        let exchange = TestExchange(path: "/x", authority: pool.configuration.authority)
        pool.execute(exchange)
        guard case .failure(let failure) = await exchange.wait() else { return XCTFail("expected a failure") }
        XCTAssertTrue(failure.isNotSent || failure.isDeadlineExceeded, "\(failure)")
        await pool.shutdown()
    }

    func testServerWithoutHTTP2IsAClearALPNError() async throws {
        let port = try freeLoopbackPort()
        let server = try ChildProcess("/usr/bin/openssl", [
            "s_server", "-quiet", "-accept", "127.0.0.1:\(port)", "-alpn", "http/1.1",
            "-cert", Repository.path("certs/localhost.pem"), "-key", Repository.path("certs/localhost.key"),
        ])
        defer { server.stop(signal: SIGKILL) }
        try waitUntilListening(port: port) { server.isRunning }
        let pool = try HTTP2ConnectionPool(
            configuration: HTTP2PoolConfiguration(
                host: "127.0.0.1", port: port, serverName: "localhost",
                tls: TLSConfiguration(trust: .caFile(Repository.path("certs/test-ca.pem"))), connectionCount: 1
            ),
            group: group
        )
        pool.start()
        do {
            try await pool.waitUntilReady()
            XCTFail("a server without h2 was accepted")
        } catch {
            XCTAssertTrue("\(error)".contains("ALPN did not negotiate h2"), "\(error)")
        }
        await pool.shutdown()
    }
}
