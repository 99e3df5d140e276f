@testable import LiveActivityService
import XCTest

/// The hourly window of priority-10 pushes per activity.
final class PriorityBudgetTests: XCTestCase {
    func testPushesBeyondTheBudgetWithinTheHourAreOver() {
        var budget = PriorityBudget(budget: 2)
        XCTAssertEqual(budget.record(activityID: "a", now: 1000), .within)
        XCTAssertEqual(budget.record(activityID: "a", now: 1100), .within)
        XCTAssertEqual(budget.record(activityID: "a", now: 1200), .over(first: true))
        XCTAssertEqual(budget.record(activityID: "a", now: 4599), .over(first: false))
        XCTAssertEqual(budget.record(activityID: "b", now: 4599), .within, "each activity has its own budget")
        // The hour since the window's first push is over: a new window.
        XCTAssertEqual(budget.record(activityID: "a", now: 4600), .within)
        XCTAssertEqual(budget.windows["a"], PriorityBudget.Window(start: 4600, count: 1))
        // A clock that went back starts a new window rather than counting against a future one.
        XCTAssertEqual(budget.record(activityID: "a", now: 10), .within)
    }

    func testForgettingAndSweepingBoundTheTable() {
        var budget = PriorityBudget(budget: 1)
        _ = budget.record(activityID: "ended", now: 0)
        budget.forget(activityID: "ended")
        XCTAssertEqual(budget.record(activityID: "ended", now: 1), .within, "forgotten with its count")
        for index in 0..<2000 {
            _ = budget.record(activityID: "old-\(index)", now: 10)
        }
        XCTAssertEqual(budget.windows.count, 2001)
        // An hour later, growing past the threshold sweeps the closed windows.
        for index in 0..<1000 {
            _ = budget.record(activityID: "new-\(index)", now: 3700)
        }
        XCTAssertLessThanOrEqual(budget.windows.count, 1000 + 1)
        XCTAssertNil(budget.windows["old-0"])
        budget.sweep(now: 7300)
        XCTAssertEqual(budget.windows.count, 0)
    }
}
