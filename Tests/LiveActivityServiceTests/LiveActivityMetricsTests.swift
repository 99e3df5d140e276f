import Foundation
import LiveActivity
import LiveActivityService
import Observability
import XCTest

/// A known Live Activity workload against the mock APNs, then the gateway's Prometheus output: every new figure
/// is what the workload implies.
final class LiveActivityMetricsTests: XCTestCase {
    func testKnownWorkloadShowsInTheMetrics() async throws {
        var configuration = LiveActivityServiceConfiguration(schedulerInterval: .milliseconds(50))
        configuration.priorityBudgetPerHour = 2
        let gone = deviceToken(31)
        let harness = try await ServiceHarness.start(
            configuration: configuration, unregistered: [gone: (ServiceHarness.start + 1) * 1000])
        let tokens = [gone, deviceToken(32), deviceToken(33)]
        for (index, token) in tokens.enumerated() {
            let reply = try await harness.request(
                #"{"id":\#(index),"op":"activity.register","activityId":"match","deviceId":"d\#(index)","token":"\#(token)"}"#)
            XCTAssertNil(reply.errorCode, "\(reply)")
        }
        // Three priority-10 updates (one over the budget of 2), one at priority 5 (not counted); the first retires
        // the unregistered token.
        for index in 0..<3 {
            let reply = try await harness.request(
                #"{"id":"p\#(index)","op":"activity.update","activityId":"match","contentState":{"n":\#(index)},"priority":10}"#)
            XCTAssertNil(reply.errorCode, "\(reply)")
        }
        let quiet = try await harness.request(#"{"id":"q","op":"activity.update","activityId":"match","contentState":{"n":9}}"#)
        XCTAssertNil(quiet.errorCode, "\(quiet)")
        // A scheduled end (priority 10: the fourth, two over), sent by the scheduler; another one still pending.
        for (id, at) in [("now", ServiceHarness.start), ("later", ServiceHarness.start + 600)] {
            let reply = try await harness.request(
                #"{"id":"\#(id)","op":"activity.schedule_end","scheduleId":"\#(id)","activityId":"\#(id == "now" ? "match" : "other")","at":\#(at),"contentState":{}}"#)
            XCTAssertNil(reply.errorCode, "\(reply)")
        }
        let fired = await harness.service.fireDueEnds()
        XCTAssertEqual(fired, 1)
        let refused = try await harness.request(#"{"id":"late","op":"activity.update","activityId":"match","contentState":{}}"#)
        XCTAssertEqual(refused.errorCode, "ActivityEnded")
        await harness.service.refreshScheduledEndCounts()

        let service = harness.service
        let metrics = GatewayMetrics(intake: nil, liveActivities: { service.statistics })
        let scrape = Scrape(String(decoding: metrics.render(), as: UTF8.self))
        let demo = ["app": "demo"]
        XCTAssertEqual(scrape.value("apns_gateway_live_activity_priority_pushes_total", demo), 4, scrape.text)
        XCTAssertEqual(scrape.value("apns_gateway_live_activity_over_budget_total", demo), 2)
        XCTAssertEqual(scrape.value("apns_gateway_live_activity_tokens_retired_total", ["app": "demo", "reason": "Unregistered"]), 1)
        XCTAssertEqual(scrape.value("apns_gateway_scheduled_ends_total", ["app": "demo", "outcome": "done"]), 1)
        for (state, count) in ["pending": 1.0, "firing": 0, "done": 1, "failed": 0, "cancelled": 0] {
            XCTAssertEqual(scrape.value("apns_gateway_scheduled_ends_by_state", ["app": "demo", "state": state]), count, state)
        }
        // Fan-outs: four updates and one end, each to the activity's three tokens (the retired one is listed,
        // skipped, in the later ones).
        let update = ["app": "demo", "event": "update"]
        XCTAssertEqual(scrape.value("apns_gateway_live_activity_fanout_tokens_count", update), 4)
        XCTAssertEqual(scrape.value("apns_gateway_live_activity_fanout_tokens_sum", update), 12)
        XCTAssertEqual(scrape.value("apns_gateway_live_activity_fanout_tokens_bucket", update.merging(["le": "2"]) { $1 }), 0)
        XCTAssertEqual(scrape.value("apns_gateway_live_activity_fanout_tokens_bucket", update.merging(["le": "5"]) { $1 }), 4)
        XCTAssertEqual(scrape.value("apns_gateway_live_activity_fanout_tokens_count", ["app": "demo", "event": "end"]), 1)
        // Op latency: one observation per request, by op (the refused update included).
        XCTAssertEqual(scrape.value("apns_gateway_live_activity_op_seconds_count", ["op": "activity.register"]), 3)
        XCTAssertEqual(scrape.value("apns_gateway_live_activity_op_seconds_count", ["op": "activity.update"]), 5)
        XCTAssertEqual(scrape.value("apns_gateway_live_activity_op_seconds_count", ["op": "activity.schedule_end"]), 2)
        XCTAssertEqual(scrape.value("apns_gateway_live_activity_op_seconds_count", ["op": "activity.start"]), 0)
        XCTAssertGreaterThan(scrape.value("apns_gateway_live_activity_op_seconds_sum", ["op": "activity.update"]) ?? 0, 0)
        XCTAssertTrue(scrape.text.contains("# TYPE apns_gateway_live_activity_fanout_tokens histogram"))
        XCTAssertTrue(scrape.text.contains("# TYPE apns_gateway_scheduled_ends_by_state gauge"))
        XCTAssertTrue(scrape.text.contains("# TYPE apns_gateway_live_activity_over_budget_total counter"))
        try await harness.stop()
    }
}

/// Samples of a Prometheus text scrape by name and labels.
private struct Scrape {
    let text: String
    private var samples: [String: Double] = [:]

    init(_ text: String) {
        self.text = text
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            let series = line[..<space]
            guard let brace = series.firstIndex(of: "{") else {
                samples[Self.key(String(series), [:])] = value
                continue
            }
            var labels: [String: String] = [:]
            for pair in series[series.index(after: brace)..<series.index(before: series.endIndex)].split(separator: ",") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2 else { continue }
                labels[String(parts[0])] = String(parts[1].dropFirst().dropLast())
            }
            samples[Self.key(String(series[..<brace]), labels)] = value
        }
    }

    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples[Self.key(name, labels)]
    }

    private static func key(_ name: String, _ labels: [String: String]) -> String {
        name + "{" + labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",") + "}"
    }
}
