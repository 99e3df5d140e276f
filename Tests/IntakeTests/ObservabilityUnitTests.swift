import GatewayTestSupport
import APNs
import APNsCore
import Foundation
import HTTP2Engine
import Logging
import NIOCore
import Observability
import XCTest

/// The pieces of the observability layer on their own: histogram buckets, log line formats, the scrubber and
/// GOAWAY labels.
final class ObservabilityUnitTests: XCTestCase {
    func testHistogramBucketsAndSnapshot() {
        let histogram = LatencyHistogram(bounds: [0.001, 0.01, 0.1], shards: 4)
        histogram.record(.microseconds(500))  // ≤ 1 ms
        histogram.record(.milliseconds(1))  // exactly on a bound: that bucket
        histogram.record(.milliseconds(5))
        histogram.record(.milliseconds(50))
        histogram.record(.seconds(2))  // above every bound
        histogram.record(.nanoseconds(-5))  // counts as zero
        let snapshot = histogram.snapshot()
        XCTAssertEqual(snapshot.counts, [3, 1, 1, 1])
        XCTAssertEqual(snapshot.cumulativeCounts, [3, 4, 5, 6])
        XCTAssertEqual(snapshot.count, 6)
        XCTAssertEqual(snapshot.sumSeconds, 2.0565, accuracy: 1e-9)
    }

    func testATallyAddsWhatItCountedInOneGo() {
        let histogram = LatencyHistogram(bounds: [0.001, 0.01, 0.1], shards: 2)
        histogram.record(.milliseconds(5))
        var tally = histogram.makeTally()
        for nanoseconds: Int64 in [500_000, 1_000_000, 50_000_000, 2_000_000_000, -5] {
            histogram.record(nanoseconds: nanoseconds, in: &tally)
        }
        XCTAssertEqual(histogram.snapshot().count, 1, "nothing reaches the histogram before add")
        histogram.add(tally)
        let snapshot = histogram.snapshot()
        XCTAssertEqual(snapshot.counts, [3, 1, 1, 1])
        XCTAssertEqual(snapshot.sumSeconds, 2.0565, accuracy: 1e-9)
        histogram.add(histogram.makeTally())
        XCTAssertEqual(histogram.snapshot(), snapshot, "an empty tally adds nothing")
    }

    func testHistogramFromManyThreadsLosesNothing() async {
        let histogram = LatencyHistogram()
        await withTaskGroup(of: Void.self) { group in
            for thread in 0..<4 {
                group.addTask {
                    _ = await onThread {
                        for index in 0..<25_000 { histogram.record(nanoseconds: Int64(thread * 1000 + index % 1000)) }
                        return 0
                    }
                }
            }
        }
        XCTAssertEqual(histogram.snapshot().count, 100_000)
    }

    func testLogfmtLine() {
        let line = StructuredLogHandler.format(
            .logfmt, timestamp: "2026-01-02T03:04:05.006Z", level: .info, label: "apns.client.demo", message: "connection ready",
            metadata: ["connection": "1", "detail": "GOAWAY (error 0): \"bye\"", "app": "demo"])
        XCTAssertEqual(
            line,
            #"ts=2026-01-02T03:04:05.006Z level=info logger=apns.client.demo msg="connection ready" app=demo connection=1 detail="GOAWAY (error 0): \"bye\"""# + "\n")
    }

    func testJSONLineParses() throws {
        let line = StructuredLogHandler.format(
            .json, timestamp: "2026-01-02T03:04:05.006Z", level: .warning, label: "apns.http2.pool", message: "connect failed",
            metadata: ["reason": "transport", "detail": "line\nbreak \u{1}", "list": .array(["a", "b"])])
        XCTAssertTrue(line.hasSuffix("}\n"))
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
        XCTAssertEqual(object["level"], "warning")
        XCTAssertEqual(object["msg"], "connect failed")
        XCTAssertEqual(object["logger"], "apns.http2.pool")
        XCTAssertEqual(object["detail"], "line\nbreak \u{1}")
        XCTAssertEqual(object["list"], "[a,b]")
        XCTAssertEqual(object["ts"], "2026-01-02T03:04:05.006Z")
    }

    func testScrubberCutsTokensAndDropsJWTsAndKeys() {
        let token = String(repeating: "0f", count: 32)
        XCTAssertEqual(LogScrubber.scrub("bad token \(token) here"), "bad token 0f0f0f0f… here")
        let jwt = "eyJhbGciOiJFUzI1NiIsImtpZCI6IkFCQyJ9.eyJpc3MiOiJURUFNIiwiaWF0IjoxfQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
        XCTAssertEqual(LogScrubber.scrub("authorization: bearer \(jwt)"), "authorization: bearer eyJ…(redacted)")
        XCTAssertEqual(
            LogScrubber.scrub("key: -----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY----- done"),
            "key: (private key redacted) done")
        let uuid = "8bbdc4ff-a646-4323-acbb-ab13022e7575"
        XCTAssertEqual(LogScrubber.scrub("apns-id \(uuid) and a long sentence without secrets"), "apns-id \(uuid) and a long sentence without secrets")
        XCTAssertEqual(APNsRedaction.token(token), "0f0f0f0f…")
        XCTAssertEqual(APNsRedaction.token("abc"), "abc")
    }

    func testGoAwayLabels() {
        XCTAssertEqual(HTTP2ConnectionEnd.goAway(errorCode: 0, debugData: #"{"reason":"Shutdown"}"#).goAwayLabels?.errorCode, "NO_ERROR")
        XCTAssertEqual(HTTP2ConnectionEnd.goAway(errorCode: 0, debugData: #"{"reason":"Shutdown"}"#).goAwayLabels?.reason, "Shutdown")
        XCTAssertEqual(HTTP2ConnectionEnd.goAway(errorCode: 11, debugData: "").goAwayLabels?.errorCode, "ENHANCE_YOUR_CALM")
        XCTAssertEqual(HTTP2ConnectionEnd.goAway(errorCode: 11, debugData: "").goAwayLabels?.reason, "")
        XCTAssertEqual(HTTP2ConnectionEnd.goAway(errorCode: 2, debugData: "free text, no reason").goAwayLabels?.reason, "other")
        XCTAssertEqual(HTTP2ConnectionEnd.goAway(errorCode: 99, debugData: #"{"reason":"a b"}"#).goAwayLabels?.reason, "other")
        XCTAssertEqual(HTTP2ConnectionEnd.goAway(errorCode: 99, debugData: "").goAwayLabels?.errorCode, "0x63")
        XCTAssertNil(HTTP2ConnectionEnd.transport("x").goAwayLabels)
    }
}
