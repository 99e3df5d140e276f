import APNs
import Foundation
@testable import LiveActivity
import LiveActivityService
import NIOCore
import XCTest

/// Scheduled ends that are not delivered: refused by APNs for every token, or stored without the final content
/// by an older build. They end `failed` with the reason (in the registry and in the ops' replies), are counted, and
/// are not sent again; an end that reached some device is `done`.
final class ScheduledEndFailureTests: XCTestCase {
    /// The mock serves only the harness's bundle ID: a push for another app's topic gets 400 TopicDisallowed.
    func testAnEndAPNsRefusesForEveryTokenFailsWithTheReason() async throws {
        let harness = try await ServiceHarness.start()
        let unserved = "com.example.unserved"
        let tokens = [deviceToken(1100), deviceToken(1101)]
        for (index, token) in tokens.enumerated() {
            _ = try harness.registry.register(
                ActivityTokenRegistration(activityID: "refused", deviceID: "d\(index)", token: token, app: unserved, environment: .production),
                at: harness.clock.now)
        }
        _ = try harness.registry.schedule(
            ScheduledEndRequest(
                id: "refused-end", activityID: "refused", app: unserved, fireAt: ServiceHarness.start,
                contentState: #"{"status":"over"}"#),
            at: harness.clock.now)
        let service = LiveActivityService(
            registry: harness.registry,
            apps: [APNsApp(name: "unserved", bundleID: unserved, client: harness.client, tokenEnvironment: nil)],
            group: harness.group, logger: quietLogger(), clock: harness.clock.function)

        let settled = await service.fireDueEnds()
        XCTAssertEqual(settled, 1)
        let received = harness.received(for: Set(tokens))
        XCTAssertEqual(received.count, 2, "one end push per token")
        XCTAssertEqual(received.map(\.responseStatus), [400, 400])
        XCTAssertEqual(received.map(\.reason), ["TopicDisallowed", "TopicDisallowed"])

        let end = try XCTUnwrap(try harness.registry.scheduledEnd(id: "refused-end"))
        XCTAssertEqual(end.state, .failed)
        XCTAssertEqual(end.failureReason, "no token accepted the end: 2× 400 TopicDisallowed")
        XCTAssertEqual(service.scheduledEndStatistics.count(.failed, app: "unserved"), 1)
        XCTAssertEqual(service.scheduledEndStatistics.count(.done), 0)
        XCTAssertEqual(service.scheduledEndStatistics.count(.deferred), 0)

        let again = await service.fireDueEnds()
        XCTAssertEqual(again, 0, "a failed end is not sent again")
        XCTAssertEqual(harness.received(for: Set(tokens)).count, 2)
        XCTAssertEqual(try harness.registry.tokens(forActivity: "refused").count, 2, "a 400 other than BadDeviceToken retires nothing")
        await service.close()
        try await harness.stop()
    }

    /// Every token answered 410: the end failed (no device got it) and the tokens are retired as for any push; the
    /// ops that read the end show the state and the reason.
    func testAnEndEveryTokenOfWhichIsUnregisteredFailsAndTheOpsShowWhy() async throws {
        let tokens = [deviceToken(1200), deviceToken(1201)]
        let harness = try await ServiceHarness.start(
            unregistered: Dictionary(uniqueKeysWithValues: tokens.map { ($0, ServiceHarness.start * 1000) }))
        try harness.registerTokens(activityID: "gone", tokens: tokens)
        let line = #"{"id":1,"op":"activity.schedule_end","activityId":"gone","at":\#(ServiceHarness.start),"#
            + #""scheduleId":"gone-end","contentState":{"status":"over"}}"#
        let scheduled = try await harness.request(line)
        XCTAssertEqual(scheduled["state"] as? String, "pending", "\(scheduled)")
        XCTAssertNil(scheduled["failureReason"])

        let settled = await harness.service.fireDueEnds()
        XCTAssertEqual(settled, 1)
        XCTAssertEqual(harness.received(for: Set(tokens)).count, 2)
        let reason = "no token accepted the end: 2× 410 Unregistered"
        XCTAssertEqual(try harness.registry.scheduledEnd(id: "gone-end")?.state, .failed)
        XCTAssertEqual(try harness.registry.scheduledEnd(id: "gone-end")?.failureReason, reason)
        XCTAssertEqual(try harness.registry.tokens(forActivity: "gone"), [], "both tokens retired")
        XCTAssertEqual(harness.service.scheduledEndStatistics.count(.failed, app: "demo"), 1)
        XCTAssertEqual(harness.service.scheduledEndStatistics.counts, [.init(app: "demo", outcome: .failed): 1])

        let repeated = try await harness.request(line)
        XCTAssertEqual(repeated["state"] as? String, "failed", "\(repeated)")
        XCTAssertEqual(repeated["failureReason"] as? String, reason)
        let cancel = try await harness.request(#"{"id":2,"op":"activity.cancel_scheduled_end","scheduleId":"gone-end"}"#)
        XCTAssertEqual(cancel.errorCode, "ScheduleNotPending", "\(cancel)")
        XCTAssertTrue(cancel.errorMessage?.contains("failed: \(reason)") == true, "\(cancel)")
        harness.clock.advance(by: LiveActivityService.resendAfterClaim)
        let resend = try await harness.request(#"{"id":3,"op":"activity.resend_scheduled_end","scheduleId":"gone-end"}"#)
        XCTAssertEqual(resend.errorCode, "ScheduleNotFiring", "\(resend)")
        XCTAssertTrue(resend.errorMessage?.contains("is failed (\(reason))") == true, "\(resend)")
        try await harness.stop()
    }

    /// One token got 200, the other 410: the end reached a device, so it is done; the dead token is retired.
    func testAnEndThatReachedSomeDeviceIsDone() async throws {
        let live = deviceToken(1300)
        let dead = deviceToken(1301)
        let harness = try await ServiceHarness.start(unregistered: [dead: ServiceHarness.start * 1000])
        try harness.registerTokens(activityID: "mixed", tokens: [live, dead])
        _ = try harness.registry.schedule(
            ScheduledEndRequest(
                id: "mixed-end", activityID: "mixed", app: ServiceHarness.bundleID, fireAt: ServiceHarness.start,
                contentState: "{}"),
            at: harness.clock.now)
        let settled = await harness.service.fireDueEnds()
        XCTAssertEqual(settled, 1)
        let end = try XCTUnwrap(try harness.registry.scheduledEnd(id: "mixed-end"))
        XCTAssertEqual(end.state, .done)
        XCTAssertNil(end.failureReason)
        XCTAssertEqual(try harness.registry.tokens(forActivity: "mixed").map(\.token), [live])
        XCTAssertEqual(harness.service.scheduledEndStatistics.counts, [.init(app: "demo", outcome: .done): 1])
        try await harness.stop()
    }

    /// An end an older build stored without a content state (as its registry file holds it) is not sent as a bad
    /// push: it fails with a reason that says what to do.
    func testAnEndStoredWithoutContentStateFailsWithoutBeingSent() async throws {
        let harness = try await ServiceHarness.start()
        let tokens = [deviceToken(1400)]
        try harness.registerTokens(activityID: "legacy", tokens: tokens)
        do {
            let connection = try SQLiteConnection(path: harness.registryPath, busyTimeoutMilliseconds: 1000)
            try connection.execute(
                "INSERT INTO scheduled_ends (id, activity_id, app, fire_at, content_state, dismissal_date, state, created_at) "
                    + "VALUES ('legacy-end', 'legacy', '\(ServiceHarness.bundleID)', \(ServiceHarness.start), NULL, NULL, 'pending', 1)",
                operation: "test: an end as an older build stored it")
            connection.close()
        }
        let settled = await harness.service.fireDueEnds()
        XCTAssertEqual(settled, 1)
        XCTAssertEqual(harness.received(for: Set(tokens)).count, 0, "no end push without content")
        let end = try XCTUnwrap(try harness.registry.scheduledEnd(id: "legacy-end"))
        XCTAssertEqual(end.state, .failed)
        let reason = try XCTUnwrap(end.failureReason)
        XCTAssertTrue(reason.hasPrefix("stored without a content-state"), reason)
        XCTAssertTrue(reason.contains("schedule it again with \"contentState\""), reason)
        XCTAssertEqual(harness.service.scheduledEndStatistics.counts, [.init(app: "demo", outcome: .failed): 1])
        XCTAssertEqual(try harness.registry.tokens(forActivity: "legacy").count, 1, "the token stays live")
        try await harness.stop()
    }
}
