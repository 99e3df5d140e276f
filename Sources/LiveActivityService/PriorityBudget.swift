/// Counts priority-10 pushes per activity per hour against a budget: the rule, without clocks or I/O.
///
/// Apple counts priority-10 Live Activity pushes against an hourly budget per activity on a device, and throttles
/// the activity beyond it; it does not publish the number. The gateway sends the same pushes to every device of an
/// activity, so counting per activity counts what each of its devices gets.
///
/// The hour is a fixed window that starts with an activity's first priority-10 push after the previous window
/// ended: a push is over budget when the window already holds `budget` pushes. Only activities with a window still
/// open are kept; closed windows are swept when the table has doubled since the last sweep, so memory follows the
/// activities pushed at priority 10 in the last hour.
struct PriorityBudget: Sendable {
    /// One activity's window.
    struct Window: Sendable, Hashable {
        /// Epoch seconds of the window's first push.
        var start: Int64
        /// Priority-10 pushes in the window, including those over budget.
        var count: Int
    }

    /// What recording a push decided.
    enum Verdict: Equatable, Sendable {
        /// Within the budget.
        case within
        /// Over it: `first` for the first push over budget in this window (log it once).
        case over(first: Bool)
    }

    static let windowSeconds: Int64 = 3600

    let budget: Int
    private(set) var windows: [String: Window] = [:]
    private var sizeAfterSweep = 0

    init(budget: Int) {
        precondition(budget > 0)
        self.budget = budget
    }

    /// Records one priority-10 push to `activityID` at `now` (epoch seconds).
    mutating func record(activityID: String, now: Int64) -> Verdict {
        var window = windows[activityID] ?? Window(start: now, count: 0)
        if now - window.start >= Self.windowSeconds || now < window.start {
            window = Window(start: now, count: 0)
        }
        window.count += 1
        windows[activityID] = window
        if windows.count > max(1024, 2 * sizeAfterSweep) {
            sweep(now: now)
        }
        if window.count <= budget { return .within }
        return .over(first: window.count == budget + 1)
    }

    /// Forgets an activity (it ended).
    mutating func forget(activityID: String) {
        windows[activityID] = nil
    }

    /// Drops the windows that have closed by `now`.
    mutating func sweep(now: Int64) {
        windows = windows.filter { now - $0.value.start < Self.windowSeconds && now >= $0.value.start }
        sizeAfterSweep = windows.count
    }
}
