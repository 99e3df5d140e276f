import APNs
import APNsCore
import LiveActivity
import NIOCore

/// Limits and policies of the Live Activity ops.
public struct LiveActivityServiceConfiguration: Sendable {
    /// The most user ids in one `activity.start`.
    public var maxUsersPerStart: Int
    /// The most explicit push-to-start tokens in one `activity.start`.
    public var maxTokensPerStart: Int
    /// How often the scheduler looks for due scheduled ends (it also wakes when an end is scheduled for now).
    public var schedulerInterval: TimeAmount
    /// `activity.lifecycle`: what each upstream state sends, by state name.
    public var lifecycle: [String: LifecycleRule]
    /// The environment a registration gets when it names none.
    public var defaultTokenEnvironment: TokenEnvironment
    /// How long an ended activity (an end push reached a device) and its tokens are kept, in seconds: updates to
    /// it are refused meanwhile (`ActivityEnded`), then it is forgotten.
    public var endedRetentionSeconds: Int64
    /// Priority-10 pushes to one activity within an hour beyond which each further one is counted and logged as
    /// over Apple's budget (Apple does not publish the budget: this is the operator's estimate).
    public var priorityBudgetPerHour: Int
    /// The most broadcast channels per app and environment, checked before `channel.create` asks APNs (APNs's
    /// own limit, ``defaultMaxChannelsPerApp``; lower only for tests).
    public var maxChannelsPerApp = LiveActivityServiceConfiguration.defaultMaxChannelsPerApp

    /// Creates a configuration; every value has a default.
    public init(
        maxUsersPerStart: Int = LiveActivityServiceConfiguration.defaultMaxUsersPerStart,
        maxTokensPerStart: Int = LiveActivityServiceConfiguration.defaultMaxTokensPerStart,
        schedulerInterval: TimeAmount = LiveActivityServiceConfiguration.defaultSchedulerInterval,
        lifecycle: [String: LifecycleRule] = [:],
        defaultTokenEnvironment: TokenEnvironment = .production,
        endedRetentionSeconds: Int64 = LiveActivityServiceConfiguration.defaultEndedRetentionSeconds,
        priorityBudgetPerHour: Int = LiveActivityServiceConfiguration.defaultPriorityBudgetPerHour
    ) {
        self.maxUsersPerStart = maxUsersPerStart
        self.maxTokensPerStart = maxTokensPerStart
        self.schedulerInterval = schedulerInterval
        self.lifecycle = lifecycle
        self.defaultTokenEnvironment = defaultTokenEnvironment
        self.endedRetentionSeconds = endedRetentionSeconds
        self.priorityBudgetPerHour = priorityBudgetPerHour
    }

    // MARK: Defaults and sensible ranges (a configuration file is held to the ranges)

    /// The default of ``maxUsersPerStart``.
    public static let defaultMaxUsersPerStart = 1000
    /// The values of ``maxUsersPerStart`` worth configuring.
    public static let maxUsersPerStartRange = 1...100_000
    /// The default of ``maxTokensPerStart``.
    public static let defaultMaxTokensPerStart = 10_000
    /// The values of ``maxTokensPerStart`` worth configuring.
    public static let maxTokensPerStartRange = 1...1_000_000
    /// APNs's limit of broadcast channels per app and environment.
    public static let defaultMaxChannelsPerApp = 10_000
    /// The default of ``schedulerInterval``.
    public static let defaultSchedulerInterval: TimeAmount = .seconds(1)
    /// The values of ``schedulerInterval`` worth configuring.
    public static let schedulerIntervalRange: ClosedRange<TimeAmount> = .milliseconds(50)...(.seconds(60))
    /// The default of ``endedRetentionSeconds``: a day, well past the 4 hours an ended activity may stay on the
    /// Lock Screen.
    public static let defaultEndedRetentionSeconds: Int64 = 24 * 3600
    /// The values of ``endedRetentionSeconds`` worth configuring: a minute to 90 days.
    public static let endedRetentionSecondsRange = 60...(90 * 24 * 3600)
    /// The default of ``priorityBudgetPerHour``.
    public static let defaultPriorityBudgetPerHour = 10
    /// The values of ``priorityBudgetPerHour`` worth configuring.
    public static let priorityBudgetPerHourRange = 1...10_000
}
