/// A broadcast channel the gateway created at APNs, as the registry keeps it: channels are counted per app and
/// environment (APNs allows 10,000 per app and environment), and activities or streams can be bound to one so
/// that their updates and ends go out as one broadcast.
public struct BroadcastChannelRecord: Sendable, Hashable {
    /// The channel ID APNs returned (`apns-channel-id`).
    public var id: String
    /// The app's bundle ID.
    public var app: String
    /// The APNs environment it was created in: `production`, `sandbox`, or `custom` (a test endpoint).
    public var environment: String
    /// `message-storage-policy`: 0 (no storage: broadcasts must carry expiration 0) or 1 (the most recent one).
    public var storagePolicy: Int
    /// When it was created (epoch seconds).
    public var createdAt: Int64

    /// Creates a record.
    public init(id: String, app: String, environment: String, storagePolicy: Int, createdAt: Int64) {
        self.id = id
        self.app = app
        self.environment = environment
        self.storagePolicy = storagePolicy
        self.createdAt = createdAt
    }
}

/// What a channel binding attaches to: one activity, or every activity of a stream.
public enum ChannelSubject: Sendable, Hashable {
    case activity(String)
    case stream(String)

    package var kind: String {
        switch self {
        case .activity: "activity"
        case .stream: "stream"
        }
    }

    package var identifier: String {
        switch self {
        case .activity(let id), .stream(let id): id
        }
    }
}
