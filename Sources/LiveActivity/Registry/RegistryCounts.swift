/// One row of ``LiveActivityRegistry/scheduledEndCounts()``: how many scheduled ends of an app are in a state.
public struct ScheduledEndCount: Hashable, Sendable {
    /// The app's bundle ID, as stored with the end.
    public var app: String
    public var state: ScheduledEnd.State
    public var count: Int

    public init(app: String, state: ScheduledEnd.State, count: Int) {
        self.app = app
        self.state = state
        self.count = count
    }
}

/// What ``LiveActivityRegistry/pruneEndedActivities(endedAtOrBefore:limit:)`` removed.
public struct PrunedActivities: Hashable, Sendable {
    /// Ended activities forgotten.
    public var activities: Int
    /// Their update tokens removed (dead ones included).
    public var tokens: Int

    public init(activities: Int, tokens: Int) {
        self.activities = activities
        self.tokens = tokens
    }
}
