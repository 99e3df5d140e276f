import Foundation
import MockAPNs
import XCTest

/// The mock against nghttp (the nghttp2 project's client), whose `-v` output shows every frame.
final class NghttpInteropTests: XCTestCase {
    static let nghttp = "/usr/bin/nghttp"

    /// Runs nghttp with the given request URIs (all POSTed with the same body) on one connection.
    func nghttp(
        _ server: MockAPNsServer,
        paths: [String],
        headers: [(String, String)],
        body: String = #"{"aps":{"alert":"hi"}}"#
    ) throws -> ToolRun {
        let bodyURL = FileManager.default.temporaryDirectory.appendingPathComponent("mockapns-body-\(UUID().uuidString)")
        try Data(body.utf8).write(to: bodyURL)
        defer { try? FileManager.default.removeItem(at: bodyURL) }
        var arguments = ["-v", "--timeout=10", "--data=\(bodyURL.path)"]
        for (name, value) in headers {
            arguments.append("--header=\(name): \(value)")
        }
        arguments += paths.map { "https://127.0.0.1:\(server.port)\($0)" }
        return try ToolRun.run(Self.nghttp, arguments)
    }

    func testOneStreamAtFirstThenTheAuthenticatedLimit() async throws {
        let server = try await self.startMock()
        let paths = (1...3).map { "/3/device/\(String(format: "%064x", $0))" }

        let run = try self.nghttp(
            server,
            paths: paths,
            headers: [("authorization", "bearer \(try TestJWT.valid())"), ("apns-topic", TestCredentials.bundleID)]
        )

        XCTAssertEqual(run.status, 0, run.stderr)
        let output = run.stdout
        let initial = try XCTUnwrap(output.range(of: "SETTINGS_MAX_CONCURRENT_STREAMS(0x03):1]"), output)
        let firstSuccess = try XCTUnwrap(output.range(of: ":status: 200"), output)
        let raised = try XCTUnwrap(output.range(of: "SETTINGS_MAX_CONCURRENT_STREAMS(0x03):1000]"), output)
        XCTAssertLessThan(initial.lowerBound, firstSuccess.lowerBound, "the first SETTINGS allow one stream")
        XCTAssertLessThan(firstSuccess.lowerBound, raised.lowerBound, "the limit is raised after the first 200")
        XCTAssertEqual(output.components(separatedBy: ":status: 200").count - 1, 3)
        XCTAssertTrue(output.contains("SETTINGS_HEADER_TABLE_SIZE(0x01):4096"))
        XCTAssertTrue(output.contains("SETTINGS_MAX_HEADER_LIST_SIZE(0x06):8000"))

        XCTAssertEqual(server.stats.responsesByStatus, [200: 3])
        XCTAssertEqual(server.stats.streamLimitViolations, 0, "nghttp sent before it knew the limit, which is allowed")
        XCTAssertEqual(Set(server.received.map(\.connectionID)), [1])
        XCTAssertEqual(Set(server.received.map(\.deviceToken)), Set(paths.map { String($0.dropFirst(10)) }))
    }

    func testFailureStopsTheLimitFromBeingRaised() async throws {
        let server = try await self.startMock()

        let run = try self.nghttp(server, paths: ["/3/device/abcd"], headers: [("apns-topic", TestCredentials.bundleID)])

        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains(":status: 403"))
        XCTAssertTrue(run.stdout.contains(#"{"reason":"MissingProviderToken"}"#) || server.received.first?.reason == "MissingProviderToken")
        XCTAssertFalse(run.stdout.contains("SETTINGS_MAX_CONCURRENT_STREAMS(0x03):1000"))
    }

    func testGoawayAfterAnsweredStreams() async throws {
        let server = try await self.startMock { configuration in
            configuration.faults.goawayAfterStreams = 1
        }
        let paths = ["/3/device/aa01", "/3/device/aa02"]

        let run = try self.nghttp(
            server,
            paths: paths,
            headers: [("authorization", "bearer \(try TestJWT.valid())"), ("apns-topic", TestCredentials.bundleID)]
        )

        // nghttp opens both streams before it sees the server's SETTINGS; the second is above
        // last-stream-id and never processed.
        let answered = server.received.filter { $0.responseStatus == 200 }
        XCTAssertEqual(answered.count, 1)
        let lastStreamID = try XCTUnwrap(answered.first?.streamID)
        XCTAssertTrue(run.stdout.contains("recv GOAWAY frame"), run.stdout)
        XCTAssertTrue(run.stdout.contains("last_stream_id=\(lastStreamID)"), run.stdout)
        XCTAssertTrue(run.stdout.contains("error_code=NO_ERROR"), run.stdout)
        XCTAssertEqual(run.stdout.components(separatedBy: ":status: 200").count - 1, 1)
        XCTAssertEqual(server.stats.goawaysSent, 1)
    }
}
