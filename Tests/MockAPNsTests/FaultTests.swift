import Foundation
import MockAPNs
import NIOCore
import XCTest

/// Scripted misbehaviour, observed from curl.
final class FaultTests: XCTestCase {
    private func authorizedPush() throws -> CurlPush {
        var push = CurlPush()
        push.headers.append(("authorization", "bearer \(try TestJWT.valid())"))
        return push
    }

    func testEveryNthStreamGetsTheScriptedStatus() async throws {
        let server = try await self.startMock { configuration in
            configuration.faults.statusEvery = MockStatusFault(every: 2, status: 503)
        }

        let responses = try self.authorizedPush().send(to: server, times: 4)

        XCTAssertEqual(responses.map(\.status), [200, 503, 200, 503])
        XCTAssertEqual(responses[1].reason, "ServiceUnavailable")
        XCTAssertEqual(server.received.map(\.responseStatus), [200, 503, 200, 503])
        XCTAssertEqual(Set(server.received.map(\.connectionID)).count, 1, "curl reused one connection")
        XCTAssertEqual(server.stats.responsesByStatus, [200: 2, 503: 2])
    }

    func testFaultsChangeWhileRunning() async throws {
        let server = try await self.startMock()
        let push = try self.authorizedPush()
        XCTAssertEqual(try push.send(to: server).status, 200)

        server.setFaults(MockFaults(statusEvery: MockStatusFault(every: 1, status: 429)))
        let throttled = try push.send(to: server)
        XCTAssertEqual(throttled.status, 429)
        XCTAssertEqual(throttled.reason, "TooManyRequests")

        server.setFaults(MockFaults())
        XCTAssertEqual(try push.send(to: server).status, 200)
    }

    func testResetStreamInsteadOfAnswer() async throws {
        let server = try await self.startMock { configuration in
            configuration.faults.resetStreamEvery = 1
        }

        let run = try ToolRun.run(CurlPush.curl, try self.authorizedPush().arguments(port: server.port))

        XCTAssertNotEqual(run.status, 0, "curl must report the reset stream")
        XCTAssertTrue(run.stderr.contains("INTERNAL_ERROR") || run.stderr.contains("stream"), run.stderr)
        let record = try XCTUnwrap(server.received.first)
        XCTAssertTrue(record.wasReset)
        XCTAssertNil(record.responseStatus)
        XCTAssertEqual(server.stats.streamsReset, 1)
    }

    func testCloseAfterStreamsDropsTheConnection() async throws {
        let server = try await self.startMock { configuration in
            configuration.faults.closeAfterStreams = 2
        }
        var push = try self.authorizedPush()
        push.extraArguments = ["--no-keepalive"]
        var arguments = push.arguments(port: server.port)
        if let url = arguments.last { arguments.append(url) }

        let run = try ToolRun.run(CurlPush.curl, arguments)

        XCTAssertNotEqual(run.status, 0, "the second request must fail with the connection")
        let responses = CurlPush.parse(run.stdout)
        XCTAssertEqual(responses.first?.status, 200)
        XCTAssertEqual(server.received.map(\.responseStatus), [200, nil])
    }

    func testResponseDelay() async throws {
        let server = try await self.startMock { configuration in
            configuration.faults.responseDelay = .milliseconds(400)
        }

        let response = try self.authorizedPush().send(to: server)

        XCTAssertEqual(response.status, 200)
        XCTAssertGreaterThanOrEqual(response.seconds, 0.4)
    }

    func testStallAfterStreamsLeavesLaterRequestsHanging() async throws {
        let server = try await self.startMock { configuration in
            configuration.faults.stallAfterStreams = 1
        }
        var push = try self.authorizedPush()
        push.extraArguments = ["--max-time", "2"]
        var arguments = push.arguments(port: server.port)
        if let url = arguments.last { arguments.append(url) }

        let run = try ToolRun.run(CurlPush.curl, arguments)

        XCTAssertEqual(run.status, 28, "curl must time out on the stalled request: \(run.stderr)")
        XCTAssertEqual(CurlPush.parse(run.stdout).first?.status, 200)
        XCTAssertEqual(server.received.map(\.responseStatus), [200, nil])
        XCTAssertEqual(server.stats.connectionsAccepted, 1)
    }
}
