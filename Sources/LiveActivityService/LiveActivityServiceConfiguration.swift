import APNs
import LiveActivity
import NIOCore

/// An app the Live Activity ops push for: its name in requests (`"app"`), its bundle ID (stored in the
/// registry and the base of the topic `<bundleId>.push-type.liveactivity`) and its APNs client.
public struct LiveActivityApp: Sendable {
    /// The name requests use in `"app"`.
    public var name: String
    /// The bundle ID.
    public var bundleID: String
    /// The client that carries this app's pushes (its bound on outstanding notifications applies).
    public var client: APNsClient
    /// The environment of the tokens this client can reach (`production` for api.push.apple.com,
    /// `development` for the sandbox); tokens registered for the other one are skipped instead of being sent
    /// (APNs would answer `BadDeviceToken`). `nil` sends every token (a custom endpoint such as the mock).
    public var tokenEnvironment: TokenEnvironment?

    /// Creates an app entry.
    public init(name: String, bundleID: String, client: APNsClient, tokenEnvironment: TokenEnvironment?) {
        self.name = name
        self.bundleID = bundleID
        self.client = client
        self.tokenEnvironment = tokenEnvironment
    }
}

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
        maxUsersPerStart: Int = LiveActivityServiceConfiguration.defaultMaxUsersPerStart,
        maxTokensPerStart: Int = LiveActivityServiceConfiguration.defaultMaxTokensPerStart,
        schedulerInterval: TimeAmount = LiveActivityServiceConfiguration.defaultSchedulerInterval,
        lifecycle: [String: LifecycleRule] = [:],
        defaultTokenEnvironment: TokenEnvironment = .production
    ) {
        self.maxUsersPerStart = maxUsersPerStart
        self.maxTokensPerStart = maxTokensPerStart
        self.schedulerInterval = schedulerInterval
        self.lifecycle = lifecycle
        self.defaultTokenEnvironment = defaultTokenEnvironment
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
    /// The default of ``schedulerInterval``.
    public static let defaultSchedulerInterval: TimeAmount = .seconds(1)
    /// The values of ``schedulerInterval`` worth configuring.
    public static let schedulerIntervalRange: ClosedRange<TimeAmount> = .milliseconds(50)...(.seconds(60))
}
