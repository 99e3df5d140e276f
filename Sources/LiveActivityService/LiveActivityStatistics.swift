import APNs
import LiveActivity

/// The Live Activity service's figures at one moment, as the gateway exports them (docs/operations.md): what the
/// scheduled ends became, where the registry's scheduled ends are, how large fan-outs are, which tokens were
/// retired, how long each op takes, and priority-10 pushes against Apple's hourly budget.
public struct LiveActivityStatistics: Sendable {
    /// A series: an app's configured name (its bundle ID when no configured app has it) and one label's value.
    public struct Series: Sendable, Hashable {
        public var app: String
        /// The event (fan-out sizes), the reason (retired tokens) or the state (scheduled ends by state).
        public var label: String

        public init(app: String, label: String) {
            self.app = app
            self.label = label
        }
    }

    /// Claimed scheduled ends settled, by app and outcome (`apns_gateway_scheduled_ends_total`).
    public var scheduledEnds = ScheduledEndStatistics()
    /// Scheduled ends in the registry by app and state (`pending`, `firing`, `done`, `failed`, `cancelled`), as last
    /// counted; every state of every app seen so far is present, zero when empty. Empty before the first count.
    public var scheduledEndsByState: [Series: Int] = [:]
    /// Tokens per fan-out, by app and event (`start`, `update`, `end`): one observation per push request and app.
    public var fanOutSizes: [Series: HistogramSnapshot] = [:]
    /// Tokens retired after APNs reported them dead, by app and reason (`Unregistered`, `BadDeviceToken`).
    public var tokensRetired: [Series: Int] = [:]
    /// How long each op took from request to reply, by op name.
    public var operationLatency: [String: HistogramSnapshot] = [:]
    /// Priority-10 pushes to activities (one per activity per push request that sent to it), by app.
    public var priorityPushes: [String: Int] = [:]
    /// Of those, the ones beyond ``LiveActivityServiceConfiguration/priorityBudgetPerHour`` for their activity's
    /// hour, by app.
    public var priorityPushesOverBudget: [String: Int] = [:]
    /// Ended activities (and their update tokens) removed after ``LiveActivityServiceConfiguration/
    /// endedRetentionSeconds``.
    public var prunedActivities = PrunedActivities(activities: 0, tokens: 0)

    public init() {}
}
