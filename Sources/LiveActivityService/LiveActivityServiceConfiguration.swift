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

    /// Creates a configuration; every value has a default.
    public init(
        maxUsersPerStart: Int = 1000,
        maxTokensPerStart: Int = 10_000,
        schedulerInterval: TimeAmount = .seconds(1),
        lifecycle: [String: LifecycleRule] = [:],
        defaultTokenEnvironment: TokenEnvironment = .production
    ) {
        self.maxUsersPerStart = maxUsersPerStart
        self.maxTokensPerStart = maxTokensPerStart
        self.schedulerInterval = schedulerInterval
        self.lifecycle = lifecycle
        self.defaultTokenEnvironment = defaultTokenEnvironment
    }
}
