import GatewayTestSupport
import APNs
import APNsGatewayClient
import Foundation
import Intake
import MockAPNs
import NIOConcurrencyHelpers
import NIOCore
import Observability
import XCTest

/// A known workload through the intake against the mock APNs, then `/metrics` scraped over HTTP on loopback:
/// every count is what the workload implies, and the `stats` op reports the same figures.
final class MetricsEndpointTests: XCTestCase {
    private var harness: IntakeHarness!
    private var server: ObservabilityServer!

    override func tearDown() async throws {
        await server?.shutdown()
        try await harness?.stop()
    }

    private func start(faults: MockFaults = MockFaults(), unregistered: [String: Int64] = [:]) async throws -> GatewayMetrics {
        harness = try await IntakeHarness.start(faults: faults, unregistered: unregistered)
        let metrics = GatewayMetrics(intake: harness.intake)
        let apps = harness.intake.apps
        server = try await ObservabilityServer.start(
            host: "127.0.0.1", port: 0, group: harness.group, metrics: metrics,
            readiness: { Readiness.evaluate(apps: apps.map { ($0.name, $0.client.statistics) }, budget: .seconds(5)) })
        return metrics
    }

    private func scrape() async throws -> PrometheusScrape {
        let answer = await httpGet(port: server.port, path: "/metrics")
        let response = try XCTUnwrap(answer, "GET /metrics failed")
        XCTAssertEqual(response.status, 200)
        return PrometheusScrape(response.body)
    }

    private func sendLine(_ object: [String: Any]) throws -> [UInt8] {
        Array(try JSONSerialization.data(withJSONObject: object)) + [0x0A]
    }

    /// The Live Activity service's scheduled-end counts are exported by app and outcome as they grow.
    func testScheduledEndCountsAreExported() {
        let counts = NIOLockedValueBox([GatewayMetrics.ScheduledEndCount(app: "demo", outcome: "failed", count: 1)])
        let metrics = GatewayMetrics(intake: nil, scheduledEnds: { counts.withLockedValue { $0 } })
        let first = PrometheusScrape(String(decoding: metrics.render(), as: UTF8.self))
        XCTAssertEqual(first.count("apns_gateway_scheduled_ends_total", ["app": "demo", "outcome": "failed"]), 1, "\(first.seriesNames)")
        XCTAssertTrue(first.text.contains("# TYPE apns_gateway_scheduled_ends_total counter"), first.text)

        counts.withLockedValue {
            $0 = [
                GatewayMetrics.ScheduledEndCount(app: "demo", outcome: "failed", count: 3),
                GatewayMetrics.ScheduledEndCount(app: "demo", outcome: "done", count: 2),
            ]
        }
        let second = PrometheusScrape(String(decoding: metrics.render(), as: UTF8.self))
        XCTAssertEqual(second.count("apns_gateway_scheduled_ends_total", ["app": "demo", "outcome": "failed"]), 3)
        XCTAssertEqual(second.count("apns_gateway_scheduled_ends_total", ["app": "demo", "outcome": "done"]), 2)
    }

    /// Broadcasts are counted by app and result, and the channel counts the service reports are shown.
    func testBroadcastsAndChannelsAreExported() async throws {
        _ = try await start()
        let client = try XCTUnwrap(harness.intake.apps.first?.client)
        let created = await client.manageChannels(.create(bundleID: "com.example.app", storagePolicy: 1))
        let channel = try XCTUnwrap(created.channelID, "\(created)")
        let payload = ByteBuffer(string: #"{"aps":{"timestamp":1,"event":"update","content-state":{}}}"#)
        for channelID in [channel, channel, "AAAAAAAAAAAAAAAAAAAAAA=="] {
            _ = await client.broadcast(APNsBroadcast(bundleID: "com.example.app", channelID: channelID, payload: payload))
        }
        let metrics = GatewayMetrics(
            intake: harness.intake,
            channels: { [GatewayMetrics.ChannelCount(app: "com.example.app", environment: "custom", count: 1)] })
        let scrape = PrometheusScrape(String(decoding: metrics.render(), as: UTF8.self))
        XCTAssertEqual(scrape.count("apns_gateway_broadcasts_total", ["app": "demo", "result": "200"]), 2, "\(scrape.seriesNames)")
        XCTAssertEqual(scrape.count("apns_gateway_broadcasts_total", ["app": "demo", "result": "ChannelNotRegistered"]), 1)
        XCTAssertEqual(scrape.count("apns_gateway_broadcast_channels", ["app": "com.example.app", "environment": "custom"]), 1)
    }

    func testKnownWorkloadCountsInMetricsAndStats() async throws {
        let total = 200
        let unregistered = 7
        // Tokens 1000…1199: distinct (deviceToken pads with "a", so small numbers can collide).
        _ = try await start(unregistered: Dictionary(uniqueKeysWithValues: (0..<unregistered).map { (deviceToken(1000 + $0), Int64(1_700_000_000_000)) }))
        let payload: [String: Any] = ["aps": ["alert": "hello"]]
        func notification(_ index: Int) -> [String: Any] { ["token": deviceToken(1000 + index), "payload": payload] }
        // Two send requests: 200 valid notifications (7 of them for unregistered tokens), one with a bad token
        // (rejected by the client), one for an unknown app and one with an unknown push type (refused by the
        // intake); then a line that is not JSON.
        let first = try sendLine(["id": 1, "op": "send", "notifications": (0..<100).map(notification)])
        let second = try sendLine(["id": 2, "op": "send", "notifications": (100..<total).map(notification) + [
            ["token": "zz-not-hex", "payload": payload],
            ["token": deviceToken(9999), "payload": payload, "app": "nope"],
            ["token": deviceToken(9998), "payload": payload, "pushType": "carrier-pigeon"],
        ]])
        let garbage = Array("this is not json\n".utf8)
        let socket = try RawSocket(path: harness.socketPath)
        let replies = await onThread { () -> [String] in
            socket.write(first + second + garbage)
            return socket.readLines(3)
        }
        XCTAssertEqual(replies.count, 3)

        let metrics = try await scrape()
        let demo = ["app": "demo"]
        XCTAssertEqual(metrics.count("apns_gateway_notifications_accepted_total", demo), total + 1, "the bad token reaches the client")
        XCTAssertEqual(metrics.count("apns_gateway_notifications_sent_total", demo), total)
        XCTAssertEqual(metrics.count("apns_gateway_notifications_succeeded_total", demo), total - unregistered)
        XCTAssertEqual(
            metrics.count("apns_gateway_notifications_failed_total", ["app": "demo", "source": "apns", "status": "410", "reason": "Unregistered"]),
            unregistered)
        XCTAssertEqual(metrics.count("apns_gateway_local_rejections_total", ["app": "demo", "reason": "BadDeviceToken"]), 1)
        XCTAssertEqual(metrics.count("apns_gateway_local_rejections_total", ["app": "", "reason": "UnknownApp"]), 1)
        XCTAssertEqual(metrics.count("apns_gateway_local_rejections_total", ["app": "", "reason": "InvalidPushType"]), 1)
        XCTAssertEqual(metrics.count("apns_gateway_retries_total", demo), 0)
        XCTAssertEqual(metrics.value("apns_gateway_outstanding", demo), 0)
        XCTAssertEqual(metrics.count("apns_gateway_token_refreshes_total", demo), 1, "one JWT for the whole run")
        // Durations: one observation per answered attempt, one end-to-end per notification.
        XCTAssertEqual(metrics.count("apns_gateway_apns_latency_seconds_count", demo), total)
        XCTAssertEqual(metrics.count("apns_gateway_apns_latency_seconds_bucket", ["app": "demo", "le": "+Inf"]), total)
        XCTAssertEqual(metrics.count("apns_gateway_queue_wait_seconds_count", demo), total)
        XCTAssertEqual(metrics.count("apns_gateway_end_to_end_seconds_count", demo), total + 1)
        XCTAssertGreaterThan(metrics.value("apns_gateway_apns_latency_seconds_sum", demo) ?? 0, 0)
        XCTAssertLessThanOrEqual(
            metrics.count("apns_gateway_apns_latency_seconds_bucket", ["app": "demo", "le": "0.001"]),
            metrics.count("apns_gateway_apns_latency_seconds_bucket", ["app": "demo", "le": "30"]), "buckets are cumulative")
        // Intake.
        XCTAssertEqual(metrics.count("apns_gateway_intake_requests_total"), 3)
        XCTAssertEqual(metrics.count("apns_gateway_intake_bytes_total"), first.count + second.count + garbage.count)
        XCTAssertEqual(metrics.count("apns_gateway_intake_notifications_total"), total + 3)
        XCTAssertEqual(metrics.count("apns_gateway_intake_errors_total", ["code": "InvalidJSON"]), 1)
        XCTAssertEqual(metrics.count("apns_gateway_intake_connections_accepted_total"), 1)
        XCTAssertEqual(metrics.value("apns_gateway_intake_connections"), 1)
        XCTAssertEqual(metrics.value("apns_gateway_intake_pending_requests"), 0)
        // Connections: two ready, each at the mock's stream limit.
        XCTAssertEqual(metrics.value("apns_gateway_connections", ["app": "demo", "state": "ready"]), 2)
        XCTAssertEqual(metrics.count("apns_gateway_connections_opened_total", demo), 2)
        XCTAssertGreaterThan(metrics.value("apns_gateway_stream_limit", ["app": "demo", "connection": "0"]) ?? 0, 0)
        XCTAssertEqual(
            metrics.value("apns_gateway_stream_capacity", demo),
            (metrics.value("apns_gateway_stream_limit", ["app": "demo", "connection": "0"]) ?? -1)
                + (metrics.value("apns_gateway_stream_limit", ["app": "demo", "connection": "1"]) ?? -1))
        // The mock announces a 16 MiB connection window (a WINDOW_UPDATE before any data), and its later
        // WINDOW_UPDATEs acknowledge data: the gauge shows the window, not the sum of the increments.
        for connection in ["0", "1"] {
            XCTAssertEqual(metrics.value("apns_gateway_server_window_bytes", ["app": "demo", "connection": connection]), Double(1 << 24))
        }
        XCTAssertEqual(metrics.value("apns_gateway_streams_in_flight", demo), 0)
        XCTAssertEqual(metrics.value("apns_gateway_queue_depth", demo), 0)

        // The stats op reads the same counters: after it, a second scrape matches it figure for figure.
        let statsLine = Array(#"{"id":"s","op":"stats"}"#.utf8) + [0x0A]
        let statsReply = await onThread { () -> String in
            socket.write(statsLine)
            return socket.readLines(1).first ?? ""
        }
        let after = try await scrape()
        let stats = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(statsReply.utf8)) as? [String: Any])["stats"] as? [String: Any]
        let intake = try XCTUnwrap(stats?["intake"] as? [String: Any])
        let app = try XCTUnwrap((stats?["apps"] as? [String: Any])?["demo"] as? [String: Any])
        XCTAssertEqual(intake["requests"] as? Int, after.count("apns_gateway_intake_requests_total"))
        XCTAssertEqual(intake["requests"] as? Int, 4)
        XCTAssertEqual(intake["bytes"] as? Int, after.count("apns_gateway_intake_bytes_total"))
        XCTAssertEqual(intake["notifications"] as? Int, after.count("apns_gateway_intake_notifications_total"))
        XCTAssertEqual((intake["errors"] as? [String: Int])?["InvalidJSON"], 1)
        XCTAssertEqual((intake["rejections"] as? [String: Int]) ?? [:], ["UnknownApp": 1, "InvalidPushType": 1])
        XCTAssertEqual(app["accepted"] as? Int, after.count("apns_gateway_notifications_accepted_total", demo))
        XCTAssertEqual(app["sent"] as? Int, after.count("apns_gateway_notifications_sent_total", demo))
        XCTAssertEqual(app["succeeded"] as? Int, after.count("apns_gateway_notifications_succeeded_total", demo))
        XCTAssertEqual(app["rejectedLocally"] as? Int, 1)
        XCTAssertEqual((app["byOutcome"] as? [String: Int]) ?? [:], [
            "200": total - unregistered, "410 Unregistered": unregistered, "local BadDeviceToken": 1,
        ])
        for (key, metric) in [("apnsLatency", "apns_gateway_apns_latency_seconds"), ("queueWait", "apns_gateway_queue_wait_seconds"), ("endToEnd", "apns_gateway_end_to_end_seconds")] {
            let histogram = try XCTUnwrap(app[key] as? [String: Any], key)
            XCTAssertEqual(histogram["count"] as? Int, after.count(metric + "_count", demo), key)
            let buckets = try XCTUnwrap(histogram["buckets"] as? [String: Int], key)
            XCTAssertEqual(buckets["0.005"], after.count(metric + "_bucket", ["app": "demo", "le": "0.005"]), key)
            XCTAssertEqual(buckets["+Inf"], after.count(metric + "_bucket", ["app": "demo", "le": "+Inf"]), key)
        }
        let connections = try XCTUnwrap(app["connections"] as? [String: Any])
        XCTAssertEqual(connections["ready"] as? Int, 2)
        XCTAssertEqual(connections["opened"] as? Int, after.count("apns_gateway_connections_opened_total", demo))
        XCTAssertEqual(connections["streamLimitsBySlot"] as? [Int], [0, 1].map { after.count("apns_gateway_stream_limit", ["app": "demo", "connection": "\($0)"]) })
        XCTAssertEqual(connections["serverWindowsBySlot"] as? [Int], [1 << 24, 1 << 24])
        XCTAssertTrue(after.text.contains("# TYPE apns_gateway_apns_latency_seconds histogram"))
        XCTAssertTrue(after.text.contains("# TYPE apns_gateway_notifications_accepted_total counter"))
    }

    /// GOAWAYs and reconnects show as connection counters, by reason.
    func testGoAwayAndReconnectsAreCountedByReason() async throws {
        _ = try await start(faults: MockFaults(goawayAfterStreams: 60))
        let client = try await GatewayClient.connect(path: harness.socketPath)
        let results = try await client.send((0..<400).map { GatewayNotification(token: deviceToken($0), payload: #"{"aps":{"alert":"hi"}}"#) })
        XCTAssertEqual(results.filter { $0.status == 200 }.count, 400)
        await client.close()
        var metrics = try await scrape()
        // The last GOAWAY'd connection may still be closing, and its replacement still connecting: wait (bounded)
        // for both to be counted.
        _ = await eventually {
            metrics = (try? await self.scrape()) ?? metrics
            let goAways = metrics.count("apns_gateway_goaway_total", ["app": "demo", "error_code": "NO_ERROR", "reason": ""])
            return metrics.count("apns_gateway_connections_closed_total", ["app": "demo", "reason": "goaway"]) == goAways
                && metrics.count("apns_gateway_connections_opened_total", ["app": "demo"]) == 2 + goAways
        }
        let goAways = metrics.count("apns_gateway_goaway_total", ["app": "demo", "error_code": "NO_ERROR", "reason": ""])
        XCTAssertGreaterThanOrEqual(goAways, 400 / 60 - 1, metrics.seriesNames.joined(separator: "\n"))
        XCTAssertEqual(metrics.count("apns_gateway_connections_closed_total", ["app": "demo", "reason": "goaway"]), goAways)
        XCTAssertEqual(metrics.count("apns_gateway_connections_opened_total", ["app": "demo"]), 2 + goAways, "one replacement per GOAWAY")
        XCTAssertEqual(metrics.count("apns_gateway_connections_failed_total", ["app": "demo", "reason": "goaway"]), 0)
        XCTAssertEqual(metrics.count("apns_gateway_notifications_succeeded_total", ["app": "demo"]), 400)
    }
}
