import Foundation
import LiveActivity
import LiveActivityService
import XCTest

final class PushOperationTests: XCTestCase {
    static func lifecycle() throws -> [String: LifecycleRule] {
        [
            "cancelled": try LifecycleRule(
                event: .end, contentState: try JSONTemplate(json: #"{"status":"cancelled","reason":"{{reason}}"}"#),
                dismissal: .now),
            "started": try LifecycleRule(
                event: .update, contentState: try JSONTemplate(json: #"{"status":"started","eta":"{{eta}}"}"#),
                alert: try AlertTemplate(title: "On its way", body: "Arrives in {{eta}} minutes"), priority: .immediate),
            "expired": try LifecycleRule(
                event: .end, contentState: try JSONTemplate(json: #"{"status":"expired"}"#), dismissal: .after(seconds: 900)),
        ]
    }

    /// Push-to-start to users: each user's live tokens get the start payload; dead tokens are skipped and users
    /// without a live token are named.
    func testStartToUsersReachesTheirLiveTokens() async throws {
        let harness = try await ServiceHarness.start()
        let replies = try await harness.requests([
            #"{"id":1,"op":"activity.register_push_to_start","userId":"u1","deviceId":"phone","token":"\#(deviceToken(1))"}"#,
            #"{"id":2,"op":"activity.register_push_to_start","userId":"u1","deviceId":"pad","token":"\#(deviceToken(2))"}"#,
            #"{"id":3,"op":"activity.register_push_to_start","userId":"u2","deviceId":"phone","token":"\#(deviceToken(3))"}"#,
        ])
        XCTAssertEqual(replies.map { $0["registered"] as? String }, ["created", "created", "created"])
        XCTAssertEqual(try harness.registry.markDead(token: deviceToken(2), at: harness.clock.now, reason: "Unregistered"), 1)

        let reply = try await harness.request(
            #"{"id":"s","op":"activity.start","userIds":["u1","u2","u3","u1"],"attributesType":"DeliveryAttributes","#
                + #""attributes":{"orderId":"A-17"},"contentState":{"status":"preparing"},"#
                + #""alert":{"title":"Order A-17","body":{"locKey":"ORDER_STARTED","locArgs":["A-17"]},"sound":"default"}}"#)
        XCTAssertNil(reply.errorCode, "\(reply)")
        XCTAssertEqual(reply["event"] as? String, "start")
        XCTAssertEqual(reply["users"] as? Int, 3)
        XCTAssertEqual(reply["usersWithoutTokens"] as? [String], ["u3"])
        XCTAssertEqual(reply.counts["tokens"], 3)
        XCTAssertEqual(reply.counts["sent"], 2)
        XCTAssertEqual(reply.counts["succeeded"], 2)
        XCTAssertEqual(reply.counts["skippedDead"], 1)
        XCTAssertEqual(Set(reply.results.compactMap { $0["userId"] as? String }), ["u1", "u2"])

        let received = harness.received(for: [deviceToken(1), deviceToken(2), deviceToken(3)])
        XCTAssertEqual(Set(received.map(\.deviceToken)), [deviceToken(1), deviceToken(3)])
        let expected = #"{"aps":{"timestamp":\#(ServiceHarness.start),"event":"start","content-state":{"status":"preparing"},"#
            + #""attributes-type":"DeliveryAttributes","attributes":{"orderId":"A-17"},"#
            + #""alert":{"title":"Order A-17","body":{"loc-key":"ORDER_STARTED","loc-args":["A-17"]},"sound":"default"}}}"#
        XCTAssertEqual(received.map { String(decoding: $0.body, as: UTF8.self) }, [expected, expected])
        XCTAssertTrue(received.allSatisfy { $0.headers["apns-priority"] == "10" })
        try await harness.stop()
    }

    /// Push-to-start to explicit tokens; a token registered as dead is skipped.
    func testStartToExplicitTokens() async throws {
        let harness = try await ServiceHarness.start()
        _ = try harness.registry.registerPushToStart(
            PushToStartRegistration(userID: "u", deviceID: "d", token: deviceToken(21), app: ServiceHarness.bundleID,
                environment: .production), at: harness.clock.now)
        _ = try harness.registry.markDead(token: deviceToken(21), at: harness.clock.now, reason: "Unregistered")
        let tokens = [deviceToken(20), deviceToken(21).uppercased(), deviceToken(22)]
        let reply = try await harness.request(
            #"{"id":1,"op":"activity.start","tokens":["\#(tokens.joined(separator: "\",\""))"],"#
                + #""attributesType":"A","attributes":{},"contentState":{},"alert":{"title":"Hi"},"priority":5,"#
                + #""inputPushToken":true}"#)
        XCTAssertEqual(reply.counts["sent"], 2, "\(reply)")
        XCTAssertEqual(reply.counts["skippedDead"], 1)
        let received = harness.received(for: [deviceToken(20), deviceToken(21), deviceToken(22)])
        XCTAssertEqual(Set(received.map(\.deviceToken)), [deviceToken(20), deviceToken(22)])
        XCTAssertTrue(received.allSatisfy {
            $0.headers["apns-priority"] == "5" && String(decoding: $0.body, as: UTF8.self).hasSuffix(#","input-push-token":1}}"#)
        })
        try await harness.stop()
    }

    /// `dismissalDate` of an end: "now", ISO-8601, epoch seconds, or omitted (no dismissal-date: the system's
    /// default).
    func testEndDismissalForms() async throws {
        let harness = try await ServiceHarness.start()
        let forms: [(field: String, expected: String)] = [
            (#","dismissalDate":"now""#, #","dismissal-date":\#(ServiceHarness.start)"#),
            (#","dismissalDate":"2025-06-15T16:06:40+01:00""#, #","dismissal-date":1750000000"#),
            (#","dismissalDate":1750003600"#, #","dismissal-date":1750003600"#),
            ("", ""),
        ]
        for (index, form) in forms.enumerated() {
            let token = deviceToken(300 + index)
            try harness.registerTokens(activityID: "e\(index)", tokens: [token])
            let reply = try await harness.request(
                #"{"id":1,"op":"activity.end","activityId":"e\#(index)","contentState":{"final":true}\#(form.field)}"#)
            XCTAssertEqual(reply.counts["succeeded"], 1, "\(reply)")
            let body = harness.received(for: [token]).map { String(decoding: $0.body, as: UTF8.self) }
            XCTAssertEqual(
                body,
                [#"{"aps":{"timestamp":\#(ServiceHarness.start),"event":"end","content-state":{"final":true}\#(form.expected)}}"#])
            XCTAssertEqual(harness.received(for: [token]).first?.headers["apns-priority"], "10")
        }
        try await harness.stop()
    }

    /// An update with every optional field, three times in a row with rising timestamps.
    func testUpdatesCarryTheirOptionalFields() async throws {
        let harness = try await ServiceHarness.start()
        let token = deviceToken(400)
        try harness.registerTokens(activityID: "u", tokens: [token])
        for step in 1...3 {
            harness.clock.advance(by: 1)
            let reply = try await harness.request(
                #"{"id":\#(step),"op":"activity.update","activityId":"u","contentState":{"step":\#(step)},"#
                    + #""staleDate":"2025-06-15T16:00:00Z","relevanceScore":\#(step * 10),"alert":{"title":"Step \#(step)"}}"#)
            XCTAssertEqual(reply.counts["succeeded"], 1, "\(reply)")
        }
        let bodies = harness.received(for: [token]).map { String(decoding: $0.body, as: UTF8.self) }
        XCTAssertEqual(bodies, (1...3).map { step in
            #"{"aps":{"timestamp":\#(ServiceHarness.start + Int64(step)),"event":"update","content-state":{"step":\#(step)},"#
                + #""alert":{"title":"Step \#(step)"},"stale-date":1750003200,"relevance-score":\#(step * 10)}}"#
        })
        try await harness.stop()
    }

    /// A lifecycle rule that could only make end pushes without content (which APNs refuses) is refused when the
    /// configuration is read.
    func testLifecycleEndRuleNeedsContentState() throws {
        XCTAssertThrowsError(try LifecycleRule(event: .end, dismissal: .now)) { error in
            XCTAssertTrue("\(error)".contains("an end needs a contentState template"), "\(error)")
        }
        XCTAssertNoThrow(try LifecycleRule(event: .end, contentState: try JSONTemplate(json: "{}"), dismissal: .now))
    }

    /// Lifecycle states map to the configured pushes, templates filled from `values`.
    func testLifecycleStatesMapToConfiguredPushes() async throws {
        let harness = try await ServiceHarness.start(
            configuration: LiveActivityServiceConfiguration(lifecycle: try Self.lifecycle()))
        let token = deviceToken(50)
        try harness.registerTokens(activityID: "order-9", tokens: [token])

        let started = try await harness.request(
            #"{"id":1,"op":"activity.lifecycle","activityId":"order-9","state":"started","values":{"eta":12}}"#)
        XCTAssertEqual(started["state"] as? String, "started", "\(started)")
        XCTAssertEqual(started["event"] as? String, "update")
        XCTAssertEqual(started.counts["succeeded"], 1)
        harness.clock.advance(by: 1)
        let cancelled = try await harness.request(
            #"{"id":2,"op":"activity.lifecycle","activityId":"order-9","state":"cancelled","values":{"reason":"out of stock"}}"#)
        XCTAssertEqual(cancelled["event"] as? String, "end")
        harness.clock.advance(by: 1)
        _ = try await harness.request(#"{"id":3,"op":"activity.lifecycle","activityId":"order-9","state":"expired"}"#)

        let received = harness.received(for: [token])
        XCTAssertEqual(received.map { String(decoding: $0.body, as: UTF8.self) }, [
            #"{"aps":{"timestamp":1750000000,"event":"update","content-state":{"eta":12,"status":"started"},"#
                + #""alert":{"title":"On its way","body":"Arrives in 12 minutes"}}}"#,
            #"{"aps":{"timestamp":1750000001,"event":"end","content-state":{"reason":"out of stock","status":"cancelled"},"#
                + #""dismissal-date":1750000001}}"#,
            #"{"aps":{"timestamp":1750000002,"event":"end","content-state":{"status":"expired"},"dismissal-date":1750000902}}"#,
        ])
        XCTAssertEqual(received.map { $0.headers["apns-priority"] }, ["10", "10", "10"])
        try await harness.stop()
    }

    func testRegistrationOutcomesAndUnregistering() async throws {
        let harness = try await ServiceHarness.start()
        let replies = try await harness.requests([
            #"{"id":1,"op":"activity.register","activityId":"a","deviceId":"d","token":"\#(deviceToken(1))","streamId":"s"}"#,
        ])
        XCTAssertEqual(replies[0]["registered"] as? String, "created")
        let same = try await harness.request(
            #"{"id":2,"op":"activity.register","activityId":"a","deviceId":"d","token":"\#(deviceToken(1))","streamId":"s"}"#)
        XCTAssertEqual(same["registered"] as? String, "unchanged")
        let replaced = try await harness.request(
            #"{"id":3,"op":"activity.register","activityId":"a","deviceId":"d","token":"\#(deviceToken(2))","app":"demo"}"#)
        XCTAssertEqual(replaced["registered"] as? String, "replaced")
        XCTAssertEqual(replaced["replacedToken"] as? String, String(deviceToken(1).prefix(8)) + "…")
        _ = try await harness.request(
            #"{"id":4,"op":"activity.register","activityId":"a","deviceId":"e","token":"\#(deviceToken(3))","environment":"development"}"#)
        XCTAssertEqual(try harness.registry.tokens(forActivity: "a").count, 2)

        let byToken = try await harness.request(#"{"id":5,"op":"activity.unregister","token":"\#(deviceToken(3))"}"#)
        XCTAssertEqual(byToken["removed"] as? Int, 1)
        let byActivity = try await harness.request(#"{"id":6,"op":"activity.unregister","activityId":"a"}"#)
        XCTAssertEqual(byActivity["removed"] as? Int, 1)
        let nothing = try await harness.request(#"{"id":7,"op":"activity.unregister","activityId":"a","deviceId":"d"}"#)
        XCTAssertEqual(nothing["removed"] as? Int, 0)

        _ = try await harness.request(
            #"{"id":8,"op":"activity.register_push_to_start","userId":"u","deviceId":"d","token":"\#(deviceToken(4))"}"#)
        let removed = try await harness.request(#"{"id":9,"op":"activity.unregister_push_to_start","userId":"u","deviceId":"d"}"#)
        XCTAssertEqual(removed["removed"] as? Int, 1)
        XCTAssertEqual(try harness.registry.pushToStartTokens(forUsers: ["u"], app: ServiceHarness.bundleID).count, 0)
        try await harness.stop()
    }

    /// Tokens of the other APNs environment are not sent (APNs would answer BadDeviceToken and the token would
    /// be retired wrongly).
    func testTokensOfTheOtherEnvironmentAreSkipped() async throws {
        let harness = try await ServiceHarness.start()
        _ = try await harness.requests([
            #"{"id":1,"op":"activity.register","activityId":"x","deviceId":"p","token":"\#(deviceToken(60))"}"#,
            #"{"id":2,"op":"activity.register","activityId":"x","deviceId":"s","token":"\#(deviceToken(61))","environment":"development"}"#,
        ])
        let reply = try await harness.request(#"{"id":3,"op":"activity.update","activityId":"x","contentState":{}}"#)
        XCTAssertEqual(reply.counts["sent"], 1, "\(reply)")
        XCTAssertEqual(reply.counts["skippedOther"], 1)
        XCTAssertEqual(reply.results.first { $0["deviceId"] as? String == "s" }?["skipped"] as? String, "OtherEnvironment")
        XCTAssertEqual(harness.received(for: [deviceToken(60), deviceToken(61)]).map(\.deviceToken), [deviceToken(60)])
        try await harness.stop()
    }
}
