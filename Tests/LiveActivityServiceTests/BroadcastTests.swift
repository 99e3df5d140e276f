import APNs
import APNsCore
import Foundation
import LiveActivity
import LiveActivityService
import MockAPNs
import NIOCore
import XCTest

/// Broadcast channels through the intake, against the mock over real TLS: the channel ops, updates and ends
/// sent as one broadcast, bindings, the local checks and every broadcast reason.
final class BroadcastTests: XCTestCase {
    private static let bundle = ServiceHarness.bundleID

    private func broadcasts(_ harness: ServiceHarness) -> [MockReceivedRequest] {
        harness.mock.received.filter { $0.path.hasPrefix("/4/broadcasts/") }
    }

    private func create(_ harness: ServiceHarness, policy: Int = 1) async throws -> String {
        let reply = try await harness.request(#"{"id":"c","op":"channel.create","storagePolicy":\#(policy)}"#)
        XCTAssertEqual(reply["status"] as? Int, 201, "\(reply)")
        return try XCTUnwrap(reply["channelId"] as? String, "\(reply)")
    }

    func testChannelOpsAndOneBroadcastPerUpdate() async throws {
        let harness = try await ServiceHarness.start()
        let channel = try await create(harness)
        XCTAssertEqual(harness.mock.channels(forBundleID: Self.bundle)[channel], 1)
        XCTAssertEqual(try harness.registry.channel(id: channel)?.environment, "custom")

        let read = try await harness.request(#"{"id":"g","op":"channel.get","channelId":"\#(channel)"}"#)
        XCTAssertEqual(read["status"] as? Int, 200, "\(read)")
        XCTAssertEqual(read["storagePolicy"] as? Int, 1)
        XCTAssertNotNil(read["requestId"] as? String)

        let list = try await harness.request(#"{"id":"l","op":"channel.list"}"#)
        XCTAssertEqual(list["channels"] as? [String], [channel], "\(list)")
        XCTAssertEqual(list["known"] as? Int, 1)
        XCTAssertEqual(harness.service.channelCounts.values.first, 1)
        XCTAssertEqual(harness.service.channelCounts.keys.first?.app, "demo", "counted under the app's name")
        XCTAssertEqual(harness.service.channelCounts.keys.first?.environment, "custom")

        let bind = try await harness.request(#"{"id":"b","op":"channel.bind","streamId":"match-7","channelId":"\#(channel)"}"#)
        XCTAssertEqual(bind["channelId"] as? String, channel, "\(bind)")
        harness.mock.resetRecord()
        let update = try await harness.request(
            #"{"id":"u","op":"activity.update","streamId":"match-7","contentState":{"minute":80},"priority":10}"#)
        XCTAssertEqual(update["streamId"] as? String, "match-7", "\(update)")
        XCTAssertEqual(update["channelId"] as? String, channel)
        let result = try XCTUnwrap(update["broadcast"] as? [String: Any], "\(update)")
        XCTAssertEqual(result["status"] as? Int, 200)
        let sent = broadcasts(harness)
        XCTAssertEqual(sent.count, 1)
        XCTAssertEqual(result["requestId"] as? String, sent.first?.apnsID, "the reply carries apns-request-id")
        XCTAssertEqual(sent.first?.path, "/4/broadcasts/apps/\(Self.bundle)")
        XCTAssertEqual(sent.first?.headers["apns-channel-id"], channel)
        XCTAssertEqual(sent.first?.headers["apns-push-type"], "liveactivity")
        XCTAssertEqual(sent.first?.headers["apns-priority"], "10")
        XCTAssertNil(sent.first?.headers["apns-expiration"])
        let body = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(sent.first?.body ?? [])) as? [String: Any])
        XCTAssertEqual((body["aps"] as? [String: Any])?["event"] as? String, "update")

        let end = try await harness.request(
            #"{"id":"e","op":"activity.end","channelId":"\#(channel)","contentState":{"final":true},"expiration":1750003600}"#)
        XCTAssertEqual((end["broadcast"] as? [String: Any])?["status"] as? Int, 200, "\(end)")
        XCTAssertEqual(broadcasts(harness).count, 2)
        XCTAssertEqual(broadcasts(harness).last?.headers["apns-expiration"], "1750003600")

        let delete = try await harness.request(#"{"id":"d","op":"channel.delete","channelId":"\#(channel)"}"#)
        XCTAssertEqual(delete["status"] as? Int, 204, "\(delete)")
        XCTAssertEqual(delete["retired"] as? Bool, true)
        XCTAssertTrue(harness.mock.channels(forBundleID: Self.bundle).isEmpty)
        XCTAssertNil(try harness.registry.boundChannel(of: .stream("match-7")), "deleting a channel unbinds it")
        XCTAssertEqual(harness.service.channelCounts.values.first, 0)

        let gone = try await harness.request(#"{"id":"g2","op":"channel.get","channelId":"\#(channel)"}"#)
        XCTAssertEqual(gone["reason"] as? String, "ChannelNotRegistered", "\(gone)")
        XCTAssertEqual(gone["status"] as? Int, 400)
        let unknown = try await harness.request(
            #"{"id":"u2","op":"activity.update","channelId":"\#(channel)","contentState":{}}"#)
        XCTAssertEqual(unknown.errorCode, "UnknownChannel")
        try await harness.stop()
    }

    /// A `send` item with `channelId` instead of `token` is one broadcast; its result carries `requestId`.
    func testSendItemWithChannelID() async throws {
        let harness = try await ServiceHarness.start()
        let channel = try await create(harness, policy: 0)
        harness.mock.resetRecord()
        let update = #"{"aps":{"timestamp":1,"event":"update","content-state":{"n":1}}}"#
        let reply = try await harness.request(
            #"{"id":"s","op":"send","notifications":[{"channelId":"\#(channel)","payload":\#(update),"expiration":0,"priority":5},"#
                + #"{"token":"\#(deviceToken(1))","payload":{"aps":{"alert":"hi"}}},"#
                + #"{"token":"\#(deviceToken(1))","channelId":"\#(channel)","payload":{}},"#
                + #"{"channelId":"\#(channel)","payload":{},"topic":"com.example.app"}]}"#)
        let results = reply.results
        XCTAssertEqual(results.count, 4, "\(reply)")
        XCTAssertEqual(results[0]["status"] as? Int, 200, "\(results[0])")
        let sent = broadcasts(harness)
        XCTAssertEqual(sent.count, 1)
        XCTAssertEqual(results[0]["requestId"] as? String, sent.first?.apnsID)
        XCTAssertEqual(sent.first?.headers["apns-expiration"], "0")
        XCTAssertEqual(sent.first?.headers["apns-priority"], "5")
        XCTAssertEqual(results[1]["status"] as? Int, 200)
        XCTAssertEqual(results[2]["source"] as? String, "local")
        XCTAssertEqual(results[3]["source"] as? String, "local")
        XCTAssertEqual(harness.mock.received.count, 2)
        try await harness.stop()
    }

    func testPolicyZeroChannelTakesOnlyExpirationZero() async throws {
        let harness = try await ServiceHarness.start()
        let channel = try await create(harness, policy: 0)
        harness.mock.resetRecord()
        let refused = try await harness.request(
            #"{"id":"u","op":"activity.update","channelId":"\#(channel)","contentState":{},"expiration":1750003600}"#)
        XCTAssertEqual(refused.errorCode, "BadExpiration", "\(refused)")
        XCTAssertEqual(refused.errorField, "expiration")
        XCTAssertTrue(broadcasts(harness).isEmpty, "refused locally: nothing reached APNs")

        let sent = try await harness.request(#"{"id":"u2","op":"activity.update","channelId":"\#(channel)","contentState":{}}"#)
        XCTAssertEqual((sent["broadcast"] as? [String: Any])?["status"] as? Int, 200, "\(sent)")
        XCTAssertEqual(broadcasts(harness).first?.headers["apns-expiration"], "0", "policy 0 sends expiration 0")

        let bad = try await harness.request(#"{"id":"c","op":"channel.create","storagePolicy":2}"#)
        XCTAssertEqual(bad.errorCode, "BadRequest")
        let fanOut = try await harness.request(#"{"id":"f","op":"activity.update","activityId":"a","contentState":{},"expiration":0}"#)
        XCTAssertEqual(fanOut.errorField, "expiration", "expiration is for broadcasts only")
        try await harness.stop()
    }

    /// An update to a stream of 100,000 subscribed activities is one request: the mock records one broadcast and
    /// no device push, and the reply comes back in about the time of one push.
    func testAnUpdateToOneHundredThousandActivitiesIsOneRequest() async throws {
        let harness = try await ServiceHarness.start()
        let channel = try await create(harness)
        // Activities subscribed through a start with input-push-channel, all bound under one stream.
        let start = try await harness.request(
            #"{"id":"s","op":"activity.start","tokens":["\#(deviceToken(1))"],"attributesType":"Match","attributes":{},"contentState":{},"alert":{"title":"Kick-off"},"inputPushChannel":"\#(channel)","streamId":"final"}"#)
        XCTAssertEqual(start["channelId"] as? String, channel, "\(start)")
        XCTAssertEqual(start["streamId"] as? String, "final")
        let startBody = try XCTUnwrap(harness.received(for: [deviceToken(1)]).first?.body)
        XCTAssertTrue(String(decoding: startBody, as: UTF8.self).contains(#""input-push-channel":"\#(channel)""#))
        XCTAssertEqual(try harness.registry.boundChannel(of: .stream("final")), channel)
        // The registry also holds the update tokens of 100,000 activities in that stream: ten times what one
        // fan-out may send (liveActivities.maxTokensPerStart).
        let registry = harness.registry
        for index in 0..<100_000 {
            _ = try registry.register(
                ActivityTokenRegistration(
                    activityID: "m\(index)", deviceID: "d", token: deviceToken(1_000_000 + index), streamID: "final",
                    app: Self.bundle, environment: .production),
                at: harness.clock.now)
        }
        harness.mock.resetRecord()
        let began = ContinuousClock.now
        let update = try await harness.request(#"{"id":"u","op":"activity.update","streamId":"final","contentState":{"score":"1-0"}}"#)
        let elapsed = ContinuousClock.now - began
        XCTAssertEqual((update["broadcast"] as? [String: Any])?["status"] as? Int, 200, "\(update)")
        XCTAssertEqual(harness.mock.received.count, 1, "one request in all")
        XCTAssertEqual(broadcasts(harness).count, 1)
        XCTAssertLessThan(elapsed, .seconds(2), "the time of one push, not of 100,000")
        try await harness.stop()
    }

    func testChannelNotRegisteredRetiresTheBinding() async throws {
        let harness = try await ServiceHarness.start()
        let channel = try await create(harness)
        _ = try await harness.request(#"{"id":"b","op":"channel.bind","activityId":"a1","channelId":"\#(channel)"}"#)
        // Deleted behind the gateway's back (another process, the developer console).
        let deleted = await harness.client.manageChannels(.delete(bundleID: Self.bundle, channelID: channel))
        XCTAssertEqual(deleted.status, 204)
        let update = try await harness.request(#"{"id":"u","op":"activity.update","activityId":"a1","contentState":{}}"#)
        let result = try XCTUnwrap(update["broadcast"] as? [String: Any], "\(update)")
        XCTAssertEqual(result["reason"] as? String, "ChannelNotRegistered")
        XCTAssertEqual(update["retired"] as? Bool, true)
        XCTAssertNil(try harness.registry.channel(id: channel))
        XCTAssertNil(try harness.registry.boundChannel(of: .activity("a1")))
        XCTAssertEqual(broadcasts(harness).count, 1, "not retried")
        let unbound = try await harness.request(#"{"id":"u2","op":"activity.update","activityId":"a1","contentState":{}}"#)
        XCTAssertEqual(unbound.errorCode, "UnknownActivity", "back to a fan-out, and a1 has no token")
        try await harness.stop()
    }

    /// The limit of 10,000 channels per app and environment: APNs (the mock) refuses the 10,001st with
    /// CannotCreateChannelConfig, and the gateway refuses it locally once its registry holds 10,000.
    func testTheTenThousandChannelLimit() async throws {
        let harness = try await ServiceHarness.start()
        let client = harness.client
        var ids: [String] = []
        for _ in 0..<20 {  // 500 at a time: within the management client's queue
            ids += await withTaskGroup(of: String?.self) { group in
                for _ in 0..<500 {
                    group.addTask { await client.manageChannels(.create(bundleID: Self.bundle, storagePolicy: 1)).channelID }
                }
                var ids: [String] = []
                for await id in group { if let id { ids.append(id) } }
                return ids
            }
        }
        XCTAssertEqual(ids.count, 10_000)
        let over = await client.manageChannels(.create(bundleID: Self.bundle, storagePolicy: 1))
        XCTAssertEqual(over.status, 400)
        XCTAssertEqual(over.reason, "CannotCreateChannelConfig")
        XCTAssertEqual(over.apnsReason, .cannotCreateChannelConfig)

        for id in ids {
            try harness.registry.saveChannel(
                BroadcastChannelRecord(id: id, app: Self.bundle, environment: "custom", storagePolicy: 1, createdAt: 1))
        }
        harness.mock.resetRecord()
        let refused = try await harness.request(#"{"id":"c","op":"channel.create"}"#)
        XCTAssertEqual(refused.errorCode, "TooManyChannels", "\(refused)")
        XCTAssertTrue(harness.mock.received.isEmpty, "refused before asking APNs")
        try await harness.stop()
    }

    /// Every broadcast reason APNs can give comes back parsed, counted, and is not retried.
    func testEveryBroadcastReasonIsParsedCountedAndFinal() async throws {
        let harness = try await ServiceHarness.start(mock: { $0.bundleIDs.append("com.example.off"); $0.broadcastDisabledBundleIDs = ["com.example.off"] })
        let client = harness.client
        let channel = try await create(harness)
        let payload = ByteBuffer(string: #"{"aps":{"timestamp":1,"event":"update","content-state":{}}}"#)
        let reasons: [APNsReason] = [
            .featureNotEnabled, .missingChannelId, .badChannelId, .channelNotRegistered, .badRequestParams,
            .badRequestPayload, .missingPushType, .cannotCreateChannelConfig, .topicMismatch,
        ]
        for reason in reasons {
            let status = try XCTUnwrap(reason.documentedStatus)
            harness.mock.setFaults(MockFaults(statusEvery: MockStatusFault(every: 1, status: status, reason: reason.rawValue)))
            harness.mock.resetRecord()
            let result = await client.broadcast(APNsBroadcast(bundleID: Self.bundle, channelID: channel, payload: payload))
            XCTAssertEqual(result.apnsReason, reason)
            XCTAssertEqual(result.status, status)
            XCTAssertEqual(result.attempts, 1, "\(reason) is final")
            XCTAssertEqual(harness.mock.received.count, 1)
        }
        harness.mock.setFaults(MockFaults())
        let counts = client.broadcastStatistics
        for reason in reasons { XCTAssertEqual(counts[reason.rawValue], 1, reason.rawValue) }

        // The mock's own verdicts, through the client: an unknown channel, a disabled app, an unknown bundle.
        let unknown = await client.broadcast(APNsBroadcast(bundleID: Self.bundle, channelID: "AAAAAAAAAAAAAAAAAAAAAA==", payload: payload))
        XCTAssertEqual(unknown.apnsReason, .channelNotRegistered)
        let off = await client.manageChannels(.create(bundleID: "com.example.off", storagePolicy: 1))
        XCTAssertEqual(off.apnsReason, .featureNotEnabled)
        let other = await client.broadcast(APNsBroadcast(bundleID: "com.example.nope", channelID: channel, payload: payload))
        XCTAssertEqual(other.apnsReason, .topicMismatch)
        XCTAssertEqual(other.status, 403)
        let start = await client.broadcast(APNsBroadcast(
            bundleID: Self.bundle, channelID: channel, payload: ByteBuffer(string: #"{"aps":{"event":"start"}}"#)))
        XCTAssertEqual(start.apnsReason, .badRequestPayload, "a broadcast cannot start an activity")

        // Local checks: nothing reaches APNs.
        harness.mock.resetRecord()
        let missing = await client.broadcast(APNsBroadcast(bundleID: Self.bundle, channelID: "", payload: payload))
        XCTAssertEqual(missing.source, .local)
        XCTAssertEqual(missing.reason, "MissingChannelId")
        let large = await client.broadcast(APNsBroadcast(
            bundleID: Self.bundle, channelID: channel, payload: ByteBuffer(string: #"{"x":""# + String(repeating: "a", count: 5200) + #""}"#)))
        XCTAssertEqual(large.reason, "PayloadTooLarge")
        XCTAssertEqual(large.source, .local)
        XCTAssertTrue(harness.mock.received.isEmpty)
        try await harness.stop()
    }
}
