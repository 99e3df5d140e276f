import Foundation
import LiveActivity
import NIOCore
import XCTest

class ScheduledEndTests: RegistryTestCase {
    private func request(_ id: String?, fireAt: Int64, activity: String = "activity-1") -> ScheduledEndRequest {
        ScheduledEndRequest(
            id: id, activityID: activity, app: "com.example.app", fireAt: fireAt,
            contentState: #"{"score":"2-1","final":true}"#, dismissalDate: fireAt + 60)
    }

    func testScheduleAndReadBack() throws {
        let registry = try self.openRegistry()
        let end = try registry.schedule(self.request("end-1", fireAt: 1_000), at: 10)
        XCTAssertEqual(end.id, "end-1")
        XCTAssertEqual(end.state, .pending)
        XCTAssertEqual(end.createdAt, 10)
        XCTAssertNil(end.claimedAt)
        XCTAssertEqual(try registry.scheduledEnd(id: "end-1"), end)
        XCTAssertEqual(try registry.scheduledEnds(state: .pending), [end])
        XCTAssertNil(try registry.scheduledEnd(id: "missing"))

        // The stored fields build the end push.
        XCTAssertEqual(
            String(buffer: try end.payload.encode(now: 1_000)),
            #"{"aps":{"timestamp":1000,"event":"end","content-state":{"score":"2-1","final":true},"dismissal-date":1060}}"#)
    }

    func testGeneratedIDs() throws {
        let registry = try self.openRegistry()
        let first = try registry.schedule(self.request(nil, fireAt: 5), at: 1)
        let second = try registry.schedule(self.request(nil, fireAt: 5), at: 1)
        XCTAssertNotEqual(first.id, second.id)
        for id in [first.id, second.id] {
            XCTAssertEqual(id.count, 32)
            XCTAssertTrue(id.allSatisfy { $0.isHexDigit && !$0.isUppercase }, id)
        }
        XCTAssertEqual(try registry.scheduledEnds(state: .pending).count, 2)
    }

    func testRepeatingARequestIsIdempotentButOtherDetailsConflict() throws {
        let registry = try self.openRegistry()
        let end = try registry.schedule(self.request("end-1", fireAt: 1_000), at: 10)
        XCTAssertEqual(try registry.schedule(self.request("end-1", fireAt: 1_000), at: 20), end, "the stored end, unchanged")
        assertThrows(LiveActivityRegistryError.scheduleConflict(id: "end-1")) { () throws(LiveActivityRegistryError) in
            try registry.schedule(self.request("end-1", fireAt: 2_000), at: 20)
        }
        XCTAssertEqual(try registry.scheduledEnds(state: .pending), [end])
    }

    func testDueListsWithoutClaiming() throws {
        let registry = try self.openRegistry()
        _ = try registry.schedule(self.request("b", fireAt: 100), at: 1)
        _ = try registry.schedule(self.request("a", fireAt: 100), at: 1)
        _ = try registry.schedule(self.request("c", fireAt: 50), at: 1)
        _ = try registry.schedule(self.request("later", fireAt: 101), at: 1)
        XCTAssertEqual(try registry.due(now: 99).map(\.id), ["c"])
        XCTAssertEqual(try registry.due(now: 100).map(\.id), ["c", "a", "b"])
        XCTAssertEqual(try registry.due(now: 100).map(\.id), ["c", "a", "b"], "listing claims nothing")
    }

    func testClaimIsExactlyOnce() throws {
        let registry = try self.openRegistry()
        _ = try registry.schedule(self.request("a", fireAt: 100), at: 1)
        _ = try registry.schedule(self.request("b", fireAt: 200), at: 1)

        XCTAssertEqual(try registry.claimDue(now: 99, limit: 10), [])
        let claimed = try registry.claimDue(now: 150, limit: 10)
        XCTAssertEqual(claimed.map(\.id), ["a"])
        XCTAssertEqual(claimed.first?.state, .firing)
        XCTAssertEqual(claimed.first?.claimedAt, 150)
        XCTAssertEqual(try registry.claimDue(now: 150, limit: 10), [], "never returned twice")
        XCTAssertEqual(try registry.due(now: 150), [])
        XCTAssertEqual(try registry.claimDue(now: 1_000, limit: 10).map(\.id), ["b"])
        XCTAssertEqual(try registry.claimDue(now: 1_000, limit: 10), [])
        XCTAssertEqual(try registry.scheduledEnds(state: .firing).map(\.id), ["a", "b"])

        XCTAssertTrue(try registry.markDone(scheduledEndID: "a"))
        XCTAssertFalse(try registry.markDone(scheduledEndID: "a"), "already done")
        XCTAssertEqual(try registry.scheduledEnd(id: "a")?.state, .done)
        XCTAssertEqual(try registry.scheduledEnd(id: "a")?.claimedAt, 150)
    }

    /// A claimed end that was not delivered is `failed` with its reason, kept across a restart; only a `firing`
    /// end can fail, a failed one is never claimed, done or released again, and a long reason is cut.
    func testAFiringEndCanFailWithAReason() throws {
        do {
            let registry = try self.openRegistry()
            _ = try registry.schedule(self.request("a", fireAt: 100), at: 1)
            _ = try registry.schedule(self.request("b", fireAt: 100), at: 1)
            XCTAssertFalse(try registry.markFailed(scheduledEndID: "a", reason: "x"), "a pending end is not failed")
            XCTAssertEqual(try registry.claimDue(now: 100, limit: 10).map(\.id), ["a", "b"])
            XCTAssertTrue(try registry.markFailed(scheduledEndID: "a", reason: "no token accepted the end: 2× 400 BadTopic"))
            XCTAssertFalse(try registry.markFailed(scheduledEndID: "a", reason: "again"), "already failed")
            XCTAssertFalse(try registry.markDone(scheduledEndID: "a"))
            XCTAssertFalse(try registry.release(scheduledEndID: "a"))
            XCTAssertFalse(try registry.markFailed(scheduledEndID: "missing", reason: "x"))
            XCTAssertTrue(try registry.markFailed(scheduledEndID: "b", reason: String(repeating: "é", count: 400)))
        }
        let registry = try self.openRegistry()
        let failed = try registry.scheduledEnds(state: .failed)
        XCTAssertEqual(failed.map(\.id), ["a", "b"])
        XCTAssertEqual(failed.first?.failureReason, "no token accepted the end: 2× 400 BadTopic")
        XCTAssertEqual(failed.first?.claimedAt, 100)
        let cut = try XCTUnwrap(failed.last?.failureReason)
        XCTAssertLessThanOrEqual(cut.utf8.count, ScheduledEnd.maxFailureReasonLength)
        XCTAssertTrue(cut.hasPrefix("éé") && cut.hasSuffix("é…"), cut)
        XCTAssertEqual(try registry.claimDue(now: 1_000, limit: 10), [])
        XCTAssertEqual(try registry.scheduledEnds(state: .firing), [])
        XCTAssertEqual(try registry.schedule(self.request("a", fireAt: 100), at: 2).state, .failed, "a repeated request sees it")
    }

    func testClaimHonoursTheLimit() throws {
        let registry = try self.openRegistry()
        for index in 0..<5 {
            _ = try registry.schedule(self.request("end-\(index)", fireAt: Int64(index)), at: 0)
        }
        XCTAssertEqual(try registry.claimDue(now: 10, limit: 0), [])
        XCTAssertEqual(try registry.claimDue(now: 10, limit: 2).map(\.id), ["end-0", "end-1"])
        XCTAssertEqual(try registry.claimDue(now: 10, limit: 2).map(\.id), ["end-2", "end-3"])
        XCTAssertEqual(try registry.claimDue(now: 10, limit: 2).map(\.id), ["end-4"])
    }

    func testAClaimSurvivesARestartAndIsNotRepeated() throws {
        do {
            let registry = try self.openRegistry()
            _ = try registry.schedule(self.request("a", fireAt: 100), at: 1)
            _ = try registry.schedule(self.request("b", fireAt: 100), at: 1)
            XCTAssertEqual(try registry.claimDue(now: 100, limit: 1).map(\.id), ["a"])
            // The process stops here, before sending "a".
        }
        let restarted = try self.openRegistry()
        XCTAssertEqual(try restarted.claimDue(now: 200, limit: 10).map(\.id), ["b"], "a is never claimed again")
        XCTAssertEqual(try restarted.claimDue(now: 200, limit: 10), [])
        // The interrupted claim is visible, and can be handed back for another attempt.
        let firing = try restarted.scheduledEnds(state: .firing)
        XCTAssertEqual(firing.map(\.id), ["a", "b"])
        XCTAssertEqual(firing.first?.claimedAt, 100)
        XCTAssertTrue(try restarted.release(scheduledEndID: "a"))
        XCTAssertFalse(try restarted.release(scheduledEndID: "a"), "no longer firing")
        XCTAssertNil(try restarted.scheduledEnd(id: "a")?.claimedAt)
        XCTAssertEqual(try restarted.claimDue(now: 300, limit: 10).map(\.id), ["a"])
        XCTAssertEqual(try restarted.claimDue(now: 300, limit: 10), [])
    }

    func testTwoProcessesClaimingTogetherNeverShareAnEnd() throws {
        let setup = try self.openRegistry()
        let count = 200
        for index in 0..<count {
            _ = try setup.schedule(self.request(String(format: "end-%03d", index), fireAt: Int64(index % 7)), at: 0)
        }
        setup.close()
        let registries = [try self.openRegistry(), try self.openRegistry()]
        let claims = NSLock()
        nonisolated(unsafe) var claimedBy: [[String]] = [[], []]
        nonisolated(unsafe) var failures: [String] = []
        DispatchQueue.concurrentPerform(iterations: 2) { worker in
            while true {
                do {
                    let batch = try registries[worker].claimDue(now: 10, limit: 3)
                    if batch.isEmpty { return }
                    claims.withLock { claimedBy[worker] += batch.map(\.id) }
                } catch {
                    claims.withLock { failures.append("\(error)") }
                    return
                }
            }
        }
        XCTAssertEqual(failures, [])
        let all = claimedBy[0] + claimedBy[1]
        XCTAssertEqual(all.count, count, "every end claimed once")
        XCTAssertEqual(Set(all).count, count, "no end claimed twice")
        XCTAssertTrue(Set(claimedBy[0]).isDisjoint(with: claimedBy[1]))
    }

    func testCancel() throws {
        let registry = try self.openRegistry()
        _ = try registry.schedule(self.request("a", fireAt: 100), at: 1)
        _ = try registry.schedule(self.request("b", fireAt: 100), at: 1)
        XCTAssertTrue(try registry.cancel(scheduledEndID: "a"))
        XCTAssertFalse(try registry.cancel(scheduledEndID: "a"), "already cancelled")
        XCTAssertFalse(try registry.cancel(scheduledEndID: "missing"))
        XCTAssertEqual(try registry.scheduledEnd(id: "a")?.state, .cancelled)
        XCTAssertEqual(try registry.claimDue(now: 100, limit: 10).map(\.id), ["b"])
        XCTAssertFalse(try registry.cancel(scheduledEndID: "b"), "a claimed end can no longer be cancelled")
        XCTAssertFalse(try registry.markDone(scheduledEndID: "a"), "a cancelled end is never done")
        XCTAssertEqual(try registry.scheduledEnds(state: .cancelled).map(\.id), ["a"])
    }

    func testBadRequestsAreRefusedClearly() throws {
        let registry = try self.openRegistry()
        var request = self.request("", fireAt: 1)
        assertThrows(LiveActivityRegistryError.badIdentifier(field: "id", problem: "is empty")) {
            () throws(LiveActivityRegistryError) in try registry.schedule(request, at: 1)
        }
        request = self.request("x", fireAt: 1, activity: "")
        assertThrows(LiveActivityRegistryError.badIdentifier(field: "activityID", problem: "is empty")) {
            () throws(LiveActivityRegistryError) in try registry.schedule(request, at: 1)
        }
        request = self.request("x", fireAt: -1)
        assertThrows(LiveActivityRegistryError.badTime(field: "fireAt", value: -1)) {
            () throws(LiveActivityRegistryError) in try registry.schedule(request, at: 1)
        }
        request = self.request("x", fireAt: 1)
        request.contentState = "[1,2]"
        let error = assertThrows { () throws(LiveActivityRegistryError) in try registry.schedule(request, at: 1) }
        guard case .badEndPayload(.contentStateNotObject)? = error else {
            return XCTFail("\(String(describing: error))")
        }
        XCTAssertEqual(
            error?.description,
            "the scheduled end push would be invalid: \"content-state\" is not a JSON object: "
                + "top-level value is not an object at byte 0")
        request.contentState = #"{"s":""# + String(repeating: "x", count: 4096) + #""}"#
        assertThrows { () throws(LiveActivityRegistryError) in try registry.schedule(request, at: 1) }
        request.contentState = "{}"
        request.dismissalDate = -3
        assertThrows(LiveActivityRegistryError.badEndPayload(.badDate(field: "dismissal-date", value: "-3"))) {
            () throws(LiveActivityRegistryError) in try registry.schedule(request, at: 1)
        }
        XCTAssertEqual(try registry.scheduledEnds(state: .pending), [], "nothing was stored")
    }
}
