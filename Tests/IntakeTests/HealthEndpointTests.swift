import APNs
import APNsCore
import GatewayTestSupport
import Logging
import MockAPNs
import NIOCore
import NIOPosix
import Observability
import XCTest

/// `/healthz` is 200 whenever the process serves; `/readyz` follows the APNs connections: 503 before the mock is
/// up, 200 once a connection is ready, 503 again once the mock has been down for longer than the budget.
final class HealthEndpointTests: XCTestCase {
    func testReadinessFollowsTheAPNsConnection() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let port = try freeLoopbackPort()
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let tokens = try APNsProviderTokenCache(key: try IntakeHarness.signingKey(), keyID: "TESTKEY123", teamID: "TEAM123456")
        let client = try APNsClient(
            configuration: APNsClientConfiguration(
                environment: .custom(host: "127.0.0.1", port: port, serverName: "localhost", caFile: certificatePath("test-ca.pem")),
                authentication: .token(tokens), connectionCount: 1, connectTimeout: .seconds(2)),
            group: group, logger: logger)
        let budget = TimeAmount.milliseconds(500)
        let server = try await ObservabilityServer.start(
            host: "127.0.0.1", port: 0, group: group, metrics: nil,
            readiness: { Readiness.evaluate(apps: [("demo", client.statistics)], budget: budget) })
        var mock: MockAPNsServer?
        do {
            client.start()
            let live = await httpGet(port: server.port, path: "/healthz")
            XCTAssertEqual(live?.status, 200)
            XCTAssertEqual(live?.body, "ok\n")

            // Nothing listens on the port yet: never connected, so not ready.
            let before = await httpGet(port: server.port, path: "/readyz")
            XCTAssertEqual(before?.status, 503)
            XCTAssertTrue(before?.body.hasPrefix("app demo: not connected to APNs yet") == true, before?.body ?? "no answer")
            let noMetrics = await httpGet(port: server.port, path: "/metrics")
            XCTAssertEqual(noMetrics?.status, 404, "no metrics were configured")

            // The mock comes up on that port: the pool's next attempt connects.
            var configuration = try IntakeHarness.mockConfiguration()
            configuration.port = port
            mock = try await MockAPNsServer.start(configuration: configuration)
            let ready = await eventually { await httpGet(port: server.port, path: "/readyz")?.status == 200 }
            XCTAssertTrue(ready, "ready once connected")
            let readyBody = await httpGet(port: server.port, path: "/readyz")
            XCTAssertEqual(readyBody?.body, "ready\n")

            // The mock goes away: reconnects fail, and past the budget the app is not ready.
            try await mock?.shutdown()
            mock = nil
            var body = ""
            let down = await eventually {
                guard let answer = await httpGet(port: server.port, path: "/readyz") else { return false }
                body = answer.body
                return answer.status == 503
            }
            XCTAssertTrue(down, "not ready once the mock is gone")
            XCTAssertTrue(body.hasPrefix("app demo: no ready connection to APNs for"), body)
            XCTAssertGreaterThan(client.statistics.pool.connectionsFailed.values.reduce(0, +), 0, "reconnects failed")
            let stillAlive = await httpGet(port: server.port, path: "/healthz")
            XCTAssertEqual(stillAlive?.status, 200, "alive all along")
            let unknown = await httpGet(port: server.port, path: "/nothing")
            XCTAssertEqual(unknown?.status, 404)
        } catch {
            XCTFail("\(error)")
        }
        await server.shutdown()
        await client.shutdown(grace: .zero)
        try? await mock?.shutdown()
        try await group.shutdownGracefully()
    }

    func testReadinessRules() throws {
        let now = NIODeadline.uptimeNanoseconds(100_000_000_000)
        func app(_ name: String, ready: Int, everReady: Bool, downFor: TimeAmount?) -> Readiness.AppState {
            Readiness.AppState(name: name, readyConnections: ready, everReady: everReady, unavailableSince: downFor.map { now - $0 })
        }
        XCTAssertTrue(Readiness.evaluate([app("a", ready: 1, everReady: true, downFor: nil)], budget: .seconds(1), now: now).isReady)
        XCTAssertTrue(
            Readiness.evaluate([app("a", ready: 0, everReady: true, downFor: .milliseconds(300))], budget: .seconds(1), now: now).isReady,
            "reconnecting within the budget")
        let late = Readiness.evaluate([app("a", ready: 0, everReady: true, downFor: .milliseconds(2500))], budget: .seconds(1), now: now)
        XCTAssertEqual(late.problems, ["app a: no ready connection to APNs for 2.5 s"])
        let never = Readiness.evaluate(
            [app("a", ready: 1, everReady: true, downFor: nil), app("b", ready: 0, everReady: false, downFor: .zero)],
            budget: .seconds(1), now: now)
        XCTAssertEqual(never.problems, ["app b: not connected to APNs yet (connecting)"])
        XCTAssertEqual(never.text, "app b: not connected to APNs yet (connecting)\n")
        XCTAssertEqual(Readiness.evaluate([], budget: .seconds(1), now: now).text, "ready\n")
    }
}
