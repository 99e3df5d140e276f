import APNs
import Foundation
import GatewayTestSupport
import NIOCore
import Observability
import XCTest

@testable import Intake

/// The time the gateway adds to each notification (inbound, outbound, their sum) and the time a reply waits for
/// its batch's siblings: one observation per notification, from the right readings.
final class AddedLatencyTests: XCTestCase {
    /// Known readings give known observations: inbound from the read to each item's first write, outbound from
    /// the batch's last answer to the reply, batch wait from each answer to the last; items without the client's
    /// times (refused before the pool) are left out.
    func testABatchRecordsEachLegFromItsReadings() {
        let figures = IntakeAddedLatency()
        let batch = PendingBatch(id: ByteBuffer(string: "1"), count: 3, readAt: .uptimeNanoseconds(1_000_000)) { _ in }
        batch.set(0, APNsResult(source: .apns, status: 200), times: APNsResultTimes(
            firstSentAt: .uptimeNanoseconds(1_050_000), knownAt: .uptimeNanoseconds(2_000_000)))
        batch.set(1, APNsResult(source: .local, reason: "BadDeviceToken"))
        batch.set(2, APNsResult(source: .apns, status: 200), times: APNsResultTimes(
            firstSentAt: .uptimeNanoseconds(1_100_000), knownAt: .uptimeNanoseconds(3_000_000)))
        batch.recordAddedLatency(writtenAt: .uptimeNanoseconds(3_200_000), into: figures)

        let stats = figures.statistics
        XCTAssertEqual(stats.inbound.count, 2)
        XCTAssertEqual(stats.inbound.sumSeconds, 0.000_150, accuracy: 1e-12)  // 50 µs + 100 µs
        XCTAssertEqual(stats.outbound.count, 2)
        XCTAssertEqual(stats.outbound.sumSeconds, 0.000_400, accuracy: 1e-12)  // 200 µs each
        XCTAssertEqual(stats.total.count, 2)
        XCTAssertEqual(stats.total.sumSeconds, 0.000_550, accuracy: 1e-12)
        XCTAssertEqual(stats.batchWait.count, 2)
        XCTAssertEqual(stats.batchWait.sumSeconds, 0.001, accuracy: 1e-12)  // 1 ms for item 0, none for item 2
        // The fine buckets place 200 µs in (150 µs, 200 µs], 50 µs in (40 µs, 50 µs].
        let outboundBucket = try! XCTUnwrap(stats.outbound.bounds.firstIndex(of: 0.0002))
        XCTAssertEqual(stats.outbound.counts[outboundBucket], 2)
        let inboundBucket = try! XCTUnwrap(stats.inbound.bounds.firstIndex(of: 0.00005))
        XCTAssertEqual(stats.inbound.counts[inboundBucket], 1)
    }

    /// The fine bounds are searched by halving: a value on a bound counts in that bound's bucket, a nanosecond more
    /// in the next one, as with the linear walk of the default bounds.
    func testFineBucketsPlaceEveryBoundInItsOwnBucket() {
        let histogram = LatencyHistogram(bounds: LatencyHistogram.fineBounds, shards: 1)
        let limits = LatencyHistogram.fineBounds.map { Int64(($0 * 1e9).rounded()) }
        for limit in limits {
            histogram.record(nanoseconds: limit)
            histogram.record(nanoseconds: limit + 1, times: 2)
        }
        histogram.record(nanoseconds: -5)
        let counts = histogram.snapshot().counts
        XCTAssertEqual(counts.count, limits.count + 1)
        XCTAssertEqual(counts[0], 2, "the negative value and the first bound")
        for index in 1..<limits.count {
            XCTAssertEqual(counts[index], 3, "bucket \(index): its bound, and twice a nanosecond above the one before")
        }
        XCTAssertEqual(counts[limits.count], 2, "above the last bound")
        XCTAssertEqual(histogram.snapshot().sumSeconds, Double(limits.reduce(0, +) * 3 + 2 * Int64(limits.count)) / 1e9, accuracy: 1e-9)
    }

    /// Through the intake to the mock APNs: one observation per notification APNs answered, none for those refused
    /// before the pool, each within the client's own view of the request (write → reply read), and the stats op
    /// and the metrics agree.
    func testEveryAnsweredNotificationIsRecordedOnceAndWithinItsRequestTime() async throws {
        let harness = try await IntakeHarness.start()
        let requests = 3
        let perRequest = 100
        let payload: [String: Any] = ["aps": ["alert": "hello"]]
        var lines: [UInt8] = []
        for request in 0..<requests {
            let items: [[String: Any]] = (0..<perRequest).map { ["token": deviceToken(10_000 + request * 1000 + $0), "payload": payload] }
                + [["token": "zz-not-hex", "payload": payload], ["token": deviceToken(9999), "payload": payload, "app": "nope"]]
            lines += Array(try JSONSerialization.data(withJSONObject: ["id": request, "op": "send", "notifications": items])) + [0x0A]
        }
        let socket = try RawSocket(path: harness.socketPath)
        let bytes = lines
        let (replies, elapsed) = await onThread { () -> ([String], Double) in
            let start = DispatchTime.now().uptimeNanoseconds
            socket.write(bytes)
            let replies = socket.readLines(requests)
            return (replies, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        XCTAssertEqual(replies.count, requests)
        XCTAssertEqual(replies.map { $0.components(separatedBy: #""status":200"#).count - 1 }.reduce(0, +), requests * perRequest)

        let answered = requests * perRequest
        let added = harness.intake.statistics.addedLatency
        let endToEnd = harness.client.statistics.endToEnd
        for (leg, snapshot) in [("inbound", added.inbound), ("outbound", added.outbound), ("total", added.total), ("batchWait", added.batchWait)] {
            XCTAssertEqual(snapshot.count, answered, "\(leg): one observation per notification APNs answered")
            // Every reading lies between the test's write and its read of the reply.
            let ceiling = try XCTUnwrap(snapshot.bounds.firstIndex { $0 >= elapsed }, leg)
            XCTAssertEqual(snapshot.cumulativeCounts[ceiling], answered, "\(leg): an observation above \(elapsed) s")
            XCTAssertLessThanOrEqual(snapshot.sumSeconds, Double(answered) * elapsed, leg)
        }
        XCTAssertGreaterThan(added.inbound.sumSeconds, 0)
        XCTAssertGreaterThan(added.outbound.sumSeconds, 0)
        XCTAssertEqual(added.total.sumSeconds, added.inbound.sumSeconds + added.outbound.sumSeconds, accuracy: 1e-6)
        // The client saw the bad tokens too (local rejections: no times, so no added-latency observation).
        XCTAssertEqual(endToEnd.count, answered + requests, "the bad tokens reach the client, the unknown app does not")

        // The same histograms in the metrics and in the stats reply.
        let scrape = PrometheusScrape(String(decoding: GatewayMetrics(intake: harness.intake).render(), as: UTF8.self))
        let statsReply = await onThread { () -> String in
            socket.write(Array(#"{"id":"s","op":"stats"}"#.utf8) + [0x0A])
            return socket.readLines(1).first ?? ""
        }
        let stats = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(statsReply.utf8)) as? [String: Any])["stats"] as? [String: Any]
        let intake = try XCTUnwrap(stats?["intake"] as? [String: Any])
        let figures = try XCTUnwrap(intake["addedLatency"] as? [String: Any])
        for (key, metric) in [
            ("inbound", "apns_gateway_added_inbound_seconds"), ("outbound", "apns_gateway_added_outbound_seconds"),
            ("total", "apns_gateway_added_seconds"), ("batchWait", "apns_gateway_batch_wait_seconds"),
        ] {
            XCTAssertEqual(scrape.count(metric + "_count"), answered, metric)
            XCTAssertTrue(scrape.text.contains("# TYPE \(metric) histogram"), metric)
            let histogram = try XCTUnwrap(figures[key] as? [String: Any], key)
            XCTAssertEqual(histogram["count"] as? Int, answered, key)
            let buckets = try XCTUnwrap(histogram["buckets"] as? [String: Int], key)
            XCTAssertEqual(buckets["0.002"], scrape.count(metric + "_bucket", ["le": "0.002"]), key)
            XCTAssertEqual(buckets["+Inf"], answered, key)
        }
        try await harness.stop()
    }
}
