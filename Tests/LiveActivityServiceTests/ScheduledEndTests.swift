import APNs
import Foundation
import LiveActivity
import LiveActivityService
import NIOCore
import XCTest

final class ScheduledEndTests: XCTestCase {
    /// Scheduled before a restart, due after it: the new process sends it once; a further pass and a further
    /// restart send nothing more.
    func testScheduledEndFiresExactlyOnceAcrossRestarts() async throws {
        let harness = try await ServiceHarness.start()
        let tokens = (0..<3).map { deviceToken(500 + $0) }
        try harness.registerTokens(activityID: "flight-7", tokens: tokens)
        let at = ServiceHarness.start + 60
        let reply = try await harness.request(
            #"{"id":1,"op":"activity.schedule_end","activityId":"flight-7","at":"2025-06-15T15:07:40Z","#
                + #""contentState":{"status":"landed"},"dismissalDate":"now","scheduleId":"end-flight-7"}"#)
        XCTAssertNil(reply.errorCode, "\(reply)")
        XCTAssertEqual(reply["scheduleId"] as? String, "end-flight-7")
        XCTAssertEqual((reply["fireAt"] as? NSNumber)?.int64Value, at)
        XCTAssertEqual(reply["state"] as? String, "pending")

        // Not due yet.
        let early = await harness.service.fireDueEnds()
        XCTAssertEqual(early, 0)
        XCTAssertEqual(harness.received(for: Set(tokens)).count, 0)

        try await harness.restart()
        harness.clock.advance(by: 61)
        let fired = await harness.service.fireDueEnds()
        XCTAssertEqual(fired, 1)
        let again = await harness.service.fireDueEnds()
        XCTAssertEqual(again, 0)

        try await harness.restart()
        let afterRestart = await harness.service.fireDueEnds()
        XCTAssertEqual(afterRestart, 0)

        let received = harness.received(for: Set(tokens))
        XCTAssertEqual(received.count, 3, "one end push per token, once")
        XCTAssertEqual(Set(received.map(\.deviceToken)), Set(tokens))
        let expected = #"{"aps":{"timestamp":\#(ServiceHarness.start + 61),"event":"end","content-state":{"status":"landed"},"#
            + #""dismissal-date":\#(at)}}"#
        XCTAssertEqual(received.map { String(decoding: $0.body, as: UTF8.self) }, Array(repeating: expected, count: 3))
        XCTAssertTrue(received.allSatisfy { $0.headers["apns-priority"] == "10" && $0.headers["apns-push-type"] == "liveactivity" })
        XCTAssertEqual(try harness.registry.scheduledEnd(id: "end-flight-7")?.state, .done)
        try await harness.stop()
    }

    /// An end a stopped gateway left `firing` is not sent again by itself; `activity.resend_scheduled_end` returns
    /// it to `pending` (only once the claim is old enough that no send can still be running), and the next pass
    /// sends it once.
    func testAnEndLeftFiringIsResentOnlyWhenAskedAndNotWhileItMayBeInFlight() async throws {
        let harness = try await ServiceHarness.start()
        let tokens = (0..<2).map { deviceToken(700 + $0) }
        try harness.registerTokens(activityID: "race-9", tokens: tokens)
        let scheduled = try await harness.request(
            #"{"id":1,"op":"activity.schedule_end","activityId":"race-9","at":\#(ServiceHarness.start),"scheduleId":"end-race-9","#
                + #""contentState":{"status":"finished"}}"#)
        XCTAssertEqual(scheduled["state"] as? String, "pending", "\(scheduled)")
        // A gateway claims it and stops before sending: the end stays firing.
        XCTAssertEqual(try harness.registry.claimDue(now: harness.clock.now, limit: 16).map(\.id), ["end-race-9"])
        try await harness.restart()
        let untouched = await harness.service.fireDueEnds()
        XCTAssertEqual(untouched, 0, "not sent again by itself")

        let early = try await harness.request(#"{"id":2,"op":"activity.resend_scheduled_end","scheduleId":"end-race-9"}"#)
        XCTAssertEqual(early.errorCode, "ScheduleInFlight", "\(early)")
        XCTAssertEqual(try harness.registry.scheduledEnd(id: "end-race-9")?.state, .firing)

        harness.clock.advance(by: LiveActivityService.resendAfterClaim)
        let resent = try await harness.request(#"{"id":3,"op":"activity.resend_scheduled_end","scheduleId":"end-race-9"}"#)
        XCTAssertNil(resent.errorCode, "\(resent)")
        XCTAssertEqual(resent["state"] as? String, "pending")
        XCTAssertEqual(resent["activityId"] as? String, "race-9")
        let fired = await harness.service.fireDueEnds()
        XCTAssertEqual(fired, 1)
        XCTAssertEqual(harness.received(for: Set(tokens)).count, 2, "one end push per token")
        XCTAssertEqual(try harness.registry.scheduledEnd(id: "end-race-9")?.state, .done)

        let done = try await harness.request(#"{"id":4,"op":"activity.resend_scheduled_end","scheduleId":"end-race-9"}"#)
        XCTAssertEqual(done.errorCode, "ScheduleNotFiring", "\(done)")
        let unknown = try await harness.request(#"{"id":5,"op":"activity.resend_scheduled_end","scheduleId":"nope"}"#)
        XCTAssertEqual(unknown.errorCode, "UnknownSchedule", "\(unknown)")
        let missing = try await harness.request(#"{"id":6,"op":"activity.resend_scheduled_end"}"#)
        XCTAssertEqual(missing.errorCode, "BadRequest", "\(missing)")
        XCTAssertEqual(missing.errorField, "scheduleId")
        XCTAssertEqual(harness.received(for: Set(tokens)).count, 2, "nothing more was sent")
        try await harness.stop()
    }

    /// The scheduler's own loop sends a due end without being asked, once: a second end scheduled afterwards
    /// fires too (so the loop has run further passes) and the first still has one push per token.
    func testSchedulerLoopSendsDueEndsOnce() async throws {
        let harness = try await ServiceHarness.start(scheduler: true)
        let first = [deviceToken(600), deviceToken(601)]
        let second = [deviceToken(700)]
        try harness.registerTokens(activityID: "first", tokens: first)
        _ = try harness.registry.register(
            ActivityTokenRegistration(activityID: "second", deviceID: "x", token: second[0], app: ServiceHarness.bundleID,
                environment: .production), at: harness.clock.now)

        let scheduled = try await harness.request(
            #"{"id":1,"op":"activity.schedule_end","activityId":"first","at":\#(ServiceHarness.start + 5),"contentState":{}}"#)
        XCTAssertEqual(scheduled["state"] as? String, "pending")
        harness.clock.advance(by: 5)
        let sentFirst = await eventually { harness.received(for: Set(first)).count == 2 }
        XCTAssertTrue(sentFirst)

        _ = try await harness.request(#"{"id":2,"op":"activity.schedule_end","activityId":"second","at":\#(harness.clock.now),"contentState":{}}"#)
        let sentSecond = await eventually { harness.received(for: Set(second)).count == 1 }
        XCTAssertTrue(sentSecond)
        XCTAssertEqual(harness.received(for: Set(first)).count, 2)
        // An end is marked done once its pushes are answered, just after the mock has seen them.
        let bothDone = await eventually { (try? harness.registry.scheduledEnds(state: .done).count) == 2 }
        XCTAssertTrue(bothDone)
        XCTAssertEqual(try harness.registry.scheduledEnds(state: .pending).count, 0)
        try await harness.stop()
    }

    /// Two services on one database claim concurrently: the end is sent by exactly one of them.
    func testTwoServicesSharingTheDatabaseSendAnEndOnce() async throws {
        let harness = try await ServiceHarness.start()
        let tokens = [deviceToken(800), deviceToken(801)]
        try harness.registerTokens(activityID: "shared", tokens: tokens)
        _ = try harness.registry.schedule(
            ScheduledEndRequest(
                id: "s1", activityID: "shared", app: ServiceHarness.bundleID, fireAt: ServiceHarness.start, contentState: "{}"),
            at: harness.clock.now)
        let otherRegistry = try SQLiteLiveActivityRegistry(path: harness.registryPath)
        let other = LiveActivityService(
            registry: otherRegistry,
            apps: [APNsApp(name: "demo", bundleID: ServiceHarness.bundleID, client: harness.client, tokenEnvironment: nil)],
            group: harness.group, logger: quietLogger(), clock: harness.clock.function)
        let service = harness.service
        async let one = service.fireDueEnds()
        async let two = other.fireDueEnds()
        let total = await one + two
        XCTAssertEqual(total, 1)
        XCTAssertEqual(harness.received(for: Set(tokens)).count, 2)
        await other.close()
        otherRegistry.close()
        try await harness.stop()
    }

    func testCancelledEndIsNotSent() async throws {
        let harness = try await ServiceHarness.start()
        let tokens = [deviceToken(900)]
        try harness.registerTokens(activityID: "c", tokens: tokens)
        let scheduled = try await harness.request(
            #"{"id":1,"op":"activity.schedule_end","activityId":"c","at":\#(ServiceHarness.start + 30),"contentState":{}}"#)
        let id = try XCTUnwrap(scheduled["scheduleId"] as? String)
        XCTAssertEqual(id.count, 32, "a generated id")

        let cancelled = try await harness.request(#"{"id":2,"op":"activity.cancel_scheduled_end","scheduleId":"\#(id)"}"#)
        XCTAssertEqual(cancelled["cancelled"] as? Bool, true)
        harness.clock.advance(by: 60)
        let fired = await harness.service.fireDueEnds()
        XCTAssertEqual(fired, 0)
        XCTAssertEqual(harness.received(for: Set(tokens)).count, 0)

        let twice = try await harness.request(#"{"id":3,"op":"activity.cancel_scheduled_end","scheduleId":"\#(id)"}"#)
        XCTAssertEqual(twice.errorCode, "ScheduleNotPending")
        XCTAssertTrue(twice.errorMessage?.contains("already cancelled") == true, "\(twice)")
        try await harness.stop()
    }

    /// A scheduled end whose pushes got no answer from APNs (the client is shut down) goes back to pending and
    /// is sent by the next process.
    func testEndWithoutAnAnswerFromAPNsStaysPendingForTheNextRun() async throws {
        let harness = try await ServiceHarness.start()
        let tokens = [deviceToken(950)]
        try harness.registerTokens(activityID: "late", tokens: tokens)
        _ = try harness.registry.schedule(
            ScheduledEndRequest(
                id: "late-end", activityID: "late", app: ServiceHarness.bundleID, fireAt: ServiceHarness.start, contentState: "{}"),
            at: harness.clock.now)
        await harness.client.shutdown(grace: .zero)
        let fired = await harness.service.fireDueEnds()
        XCTAssertEqual(fired, 0)
        XCTAssertEqual(try harness.registry.scheduledEnd(id: "late-end")?.state, .pending)

        try await harness.restart()
        let firedAfterRestart = await harness.service.fireDueEnds()
        XCTAssertEqual(firedAfterRestart, 1)
        XCTAssertEqual(harness.received(for: Set(tokens)).count, 1)
        XCTAssertEqual(try harness.registry.scheduledEnd(id: "late-end")?.state, .done)
        try await harness.stop()
    }
}
