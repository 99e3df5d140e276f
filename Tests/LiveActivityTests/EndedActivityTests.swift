@testable import LiveActivity
import XCTest

/// Ended activities: recorded once, looked up, pruned with their tokens; scheduled ends counted by state; a file
/// of schema version 2 gains the table.
class EndedActivityTests: RegistryTestCase {
    func testEndedActivitiesKeepTheirFirstEndTime() throws {
        let registry = try self.openRegistry()
        XCTAssertEqual(try registry.endedActivities(among: ["a", "b"]), [:])
        XCTAssertEqual(try registry.markEnded(activityIDs: ["a", "b", "a"], at: 100), 2)
        XCTAssertEqual(try registry.markEnded(activityIDs: ["a", "c"], at: 200), 1, "a keeps its first end")
        XCTAssertEqual(try registry.endedActivities(among: ["a", "b", "c", "d"]), ["a": 100, "b": 100, "c": 200])
        XCTAssertEqual(try registry.markEnded(activityIDs: [], at: 300), 0)
        assertThrows { () throws(LiveActivityRegistryError) in _ = try registry.markEnded(activityIDs: [""], at: 1) }
        assertThrows { () throws(LiveActivityRegistryError) in _ = try registry.endedActivities(among: ["x\n"]) }
    }

    /// Pruning removes the activities that ended at or before the cutoff with every token (dead ones too), oldest
    /// first and at most `limit` at a time; activities that ended later, or never, keep theirs.
    func testPruningRemovesOldEndedActivitiesAndTheirTokens() throws {
        let registry = try self.openRegistry()
        for (index, activity) in ["old-1", "old-2", "old-3", "recent", "running"].enumerated() {
            _ = try registry.register(.sample(activity: activity, device: "d1", token: 10 * index + 1), at: 1)
            _ = try registry.register(.sample(activity: activity, device: "d2", token: 10 * index + 2), at: 1)
        }
        XCTAssertEqual(try registry.markDead(token: token(2), at: 5, reason: "Unregistered"), 1)
        _ = try registry.markEnded(activityIDs: ["old-1"], at: 100)
        _ = try registry.markEnded(activityIDs: ["old-2"], at: 110)
        _ = try registry.markEnded(activityIDs: ["old-3"], at: 120)
        _ = try registry.markEnded(activityIDs: ["recent"], at: 500)

        XCTAssertEqual(
            try registry.pruneEndedActivities(endedAtOrBefore: 120, limit: 2), PrunedActivities(activities: 2, tokens: 4))
        XCTAssertEqual(try registry.allTokens(forActivity: "old-1"), [])
        XCTAssertEqual(try registry.allTokens(forActivity: "old-2"), [])
        XCTAssertEqual(try registry.allTokens(forActivity: "old-3").count, 2, "beyond the limit: next time")
        XCTAssertEqual(
            try registry.pruneEndedActivities(endedAtOrBefore: 120, limit: 2), PrunedActivities(activities: 1, tokens: 2))
        XCTAssertEqual(
            try registry.pruneEndedActivities(endedAtOrBefore: 120, limit: 2), PrunedActivities(activities: 0, tokens: 0))
        XCTAssertEqual(try registry.endedActivities(among: ["old-1", "old-2", "old-3", "recent"]), ["recent": 500])
        XCTAssertEqual(try registry.allTokens(forActivity: "recent").count, 2)
        XCTAssertEqual(try registry.allTokens(forActivity: "running").count, 2)
    }

    func testScheduledEndsAreCountedByAppAndState() throws {
        let registry = try self.openRegistry()
        XCTAssertEqual(try registry.scheduledEndCounts(), [])
        for (index, app) in ["com.example.app", "com.example.app", "com.example.app", "com.example.other"].enumerated() {
            _ = try registry.schedule(
                ScheduledEndRequest(id: "e\(index)", activityID: "a\(index)", app: app, fireAt: 100 + Int64(index), contentState: "{}"),
                at: 1)
        }
        XCTAssertEqual(try registry.claimDue(now: 101, limit: 1).map(\.id), ["e0"])
        XCTAssertTrue(try registry.markDone(scheduledEndID: "e0"))
        XCTAssertEqual(try registry.claimDue(now: 101, limit: 1).map(\.id), ["e1"])
        XCTAssertEqual(Set(try registry.scheduledEndCounts()), [
            ScheduledEndCount(app: "com.example.app", state: .done, count: 1),
            ScheduledEndCount(app: "com.example.app", state: .firing, count: 1),
            ScheduledEndCount(app: "com.example.app", state: .pending, count: 1),
            ScheduledEndCount(app: "com.example.other", state: .pending, count: 1),
        ])
    }
}
