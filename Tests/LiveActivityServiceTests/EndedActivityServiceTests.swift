import Foundation
import LiveActivity
import LiveActivityService
import XCTest

/// An end push that reached a device ends the activity: later updates are refused (`ActivityEnded`) or, for a
/// stream, skipped; after `endedRetentionSeconds` the activity and its tokens are pruned.
final class EndedActivityServiceTests: XCTestCase {
    func testUpdatesAfterAnEndAreRefusedAndStreamsSkipTheEndedActivity() async throws {
        let harness = try await ServiceHarness.start()
        let ended = [deviceToken(1), deviceToken(2)]
        let running = deviceToken(3)
        for (index, (activity, token)) in [("a1", ended[0]), ("a1", ended[1]), ("a2", running)].enumerated() {
            let reply = try await harness.request(
                #"{"id":\#(index),"op":"activity.register","activityId":"\#(activity)","deviceId":"d\#(index)","token":"\#(token)","streamId":"s"}"#)
            XCTAssertEqual(reply["registered"] as? String, "created", "\(reply)")
        }
        let end = try await harness.request(#"{"id":"e","op":"activity.end","activityId":"a1","contentState":{"final":true}}"#)
        XCTAssertEqual(end.counts["succeeded"], 2, "\(end)")
        XCTAssertEqual(try harness.registry.endedActivities(among: ["a1", "a2"]), ["a1": ServiceHarness.start])

        harness.mock.resetRecord()
        let update = try await harness.request(#"{"id":"u","op":"activity.update","activityId":"a1","contentState":{"late":true},"priority":10}"#)
        XCTAssertEqual(update.errorCode, "ActivityEnded", "\(update)")
        XCTAssertEqual(update.errorField, "activityId")
        XCTAssertTrue(update.errorMessage?.contains("ended at \(ServiceHarness.start)") ?? false, "\(update)")
        XCTAssertEqual(harness.received(for: Set(ended)).count, 0, "nothing sent to the ended activity")

        let stream = try await harness.request(#"{"id":"s","op":"activity.update","streamId":"s","contentState":{"minute":90}}"#)
        XCTAssertNil(stream.errorCode, "\(stream)")
        XCTAssertEqual(stream.counts["tokens"], 3)
        XCTAssertEqual(stream.counts["sent"], 1)
        XCTAssertEqual(stream.counts["skippedOther"], 2)
        XCTAssertEqual(stream.results.filter { $0["skipped"] as? String == "ActivityEnded" }.map { $0["activityId"] as? String }, ["a1", "a1"])
        XCTAssertEqual(harness.received(for: Set(ended + [running])).map(\.deviceToken), [running])

        // Ending again is allowed (it is not an update); the first end time stays.
        harness.clock.advance(by: 5)
        let again = try await harness.request(#"{"id":"e2","op":"activity.end","activityId":"a1","contentState":{"final":true}}"#)
        XCTAssertNil(again.errorCode, "\(again)")
        XCTAssertEqual(try harness.registry.endedActivities(among: ["a1"]), ["a1": ServiceHarness.start])
        try await harness.stop()
    }

    /// An end that no device accepted does not end the activity: updates still go out.
    func testAnEndNoDeviceAcceptedLeavesTheActivityOpen() async throws {
        let token = deviceToken(7)
        let harness = try await ServiceHarness.start(unregistered: [token: (ServiceHarness.start + 1) * 1000])
        try harness.registerTokens(activityID: "a", tokens: [token, deviceToken(8)])
        _ = try harness.registry.markDead(token: deviceToken(8), at: harness.clock.now, reason: "BadDeviceToken")
        let end = try await harness.request(#"{"id":"e","op":"activity.end","activityId":"a","contentState":{}}"#)
        XCTAssertEqual(end.counts["succeeded"], 0, "\(end)")
        XCTAssertEqual(try harness.registry.endedActivities(among: ["a"]), [:])
        let update = try await harness.request(#"{"id":"u","op":"activity.update","activityId":"a","contentState":{}}"#)
        XCTAssertNil(update.errorCode, "\(update)")
        try await harness.stop()
    }

    /// A scheduled end that was delivered ends the activity too.
    func testADeliveredScheduledEndEndsTheActivity() async throws {
        let harness = try await ServiceHarness.start()
        try harness.registerTokens(activityID: "flight", tokens: [deviceToken(11)])
        let scheduled = try await harness.request(
            #"{"id":1,"op":"activity.schedule_end","activityId":"flight","at":\#(ServiceHarness.start),"contentState":{"landed":true}}"#)
        XCTAssertNil(scheduled.errorCode, "\(scheduled)")
        let fired = await harness.service.fireDueEnds()
        XCTAssertEqual(fired, 1)
        XCTAssertEqual(try harness.registry.endedActivities(among: ["flight"]), ["flight": ServiceHarness.start])
        let update = try await harness.request(#"{"id":"u","op":"activity.update","activityId":"flight","contentState":{}}"#)
        XCTAssertEqual(update.errorCode, "ActivityEnded", "\(update)")
        try await harness.stop()
    }

    /// Ended activities are kept `endedRetentionSeconds`, then removed with their tokens.
    func testEndedActivitiesArePrunedAfterTheRetention() async throws {
        var configuration = LiveActivityServiceConfiguration(schedulerInterval: .milliseconds(50))
        configuration.endedRetentionSeconds = 3600
        let harness = try await ServiceHarness.start(configuration: configuration)
        try harness.registerTokens(activityID: "done", tokens: [deviceToken(21), deviceToken(22)])
        try harness.registerTokens(activityID: "live", tokens: [deviceToken(23)])
        _ = try await harness.request(#"{"id":"e","op":"activity.end","activityId":"done","contentState":{}}"#)

        harness.clock.advance(by: 3599)
        let early = await harness.service.pruneEndedActivities()
        XCTAssertEqual(early, PrunedActivities(activities: 0, tokens: 0))
        XCTAssertEqual(try harness.registry.allTokens(forActivity: "done").count, 2)

        harness.clock.advance(by: 1)
        let pruned = await harness.service.pruneEndedActivities()
        XCTAssertEqual(pruned, PrunedActivities(activities: 1, tokens: 2))
        XCTAssertEqual(try harness.registry.allTokens(forActivity: "done"), [])
        XCTAssertEqual(try harness.registry.endedActivities(among: ["done"]), [:])
        XCTAssertEqual(try harness.registry.allTokens(forActivity: "live").count, 1)
        XCTAssertEqual(harness.service.statistics.prunedActivities, PrunedActivities(activities: 1, tokens: 2))
        let update = try await harness.request(#"{"id":"u","op":"activity.update","activityId":"done","contentState":{}}"#)
        XCTAssertEqual(update.errorCode, "UnknownActivity", "forgotten: \(update)")
        try await harness.stop()
    }
}
