import APNsCore

/// The APNs environment a token was issued for: the app's `aps-environment` entitlement. Tokens of
/// one environment are rejected (`BadDeviceToken`) by the other's servers.
public typealias TokenEnvironment = APNsTokenEnvironment

/// A Live Activity's update token on one device, as the app reports it.
public struct ActivityTokenRegistration: Hashable, Sendable {
    /// The activity, as the app and the upstream service name it; with ``deviceID`` the key.
    public var activityID: String
    /// The device the activity runs on.
    public var deviceID: String
    /// The activity's update token, hex (stored lowercased).
    public var token: String
    /// A group of activities updated together (a match, a flight), if any.
    public var streamID: String?
    /// The app's bundle ID.
    public var app: String
    /// The environment the token belongs to.
    public var environment: TokenEnvironment

    /// Creates a registration.
    public init(
        activityID: String,
        deviceID: String,
        token: String,
        streamID: String? = nil,
        app: String,
        environment: TokenEnvironment
    ) {
        self.activityID = activityID
        self.deviceID = deviceID
        self.token = token
        self.streamID = streamID
        self.app = app
        self.environment = environment
    }
}

/// A stored update token: the registration, when it was made, and whether APNs reported the token
/// dead.
public struct ActivityTokenRecord: Hashable, Sendable {
    /// What was registered (token lowercased).
    public var registration: ActivityTokenRegistration
    /// When the (activity, device) pair was first registered, epoch seconds.
    public var createdAt: Int64
    /// The last registration of this token, epoch seconds; an identical re-registration moves it
    /// forward. A death reported at or after this time makes the token dead.
    public var updatedAt: Int64
    /// When APNs last reported the token invalid (epoch seconds), while it is dead.
    public var deadAt: Int64?
    /// Why it is dead (`"Unregistered"`, `"BadDeviceToken"`, ...), while it is dead.
    public var deadReason: String?

    /// Creates a record.
    public init(
        registration: ActivityTokenRegistration,
        createdAt: Int64,
        updatedAt: Int64,
        deadAt: Int64? = nil,
        deadReason: String? = nil
    ) {
        self.registration = registration
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.deadAt = deadAt
        self.deadReason = deadReason
    }

    /// Whether APNs reported the token invalid after its last registration.
    public var isDead: Bool { self.deadAt != nil }
    /// ``ActivityTokenRegistration/activityID``.
    public var activityID: String { self.registration.activityID }
    /// ``ActivityTokenRegistration/deviceID``.
    public var deviceID: String { self.registration.deviceID }
    /// ``ActivityTokenRegistration/token``.
    public var token: String { self.registration.token }
}

/// A push-to-start token (iOS 17.2+): starts activities of one app on one device, registered for
/// the user signed in there.
public struct PushToStartRegistration: Hashable, Sendable {
    /// The user, as the upstream service names them.
    public var userID: String
    /// The device.
    public var deviceID: String
    /// The push-to-start token, hex (stored lowercased).
    public var token: String
    /// The app's bundle ID.
    public var app: String
    /// The environment the token belongs to.
    public var environment: TokenEnvironment

    /// Creates a registration.
    public init(userID: String, deviceID: String, token: String, app: String, environment: TokenEnvironment) {
        self.userID = userID
        self.deviceID = deviceID
        self.token = token
        self.app = app
        self.environment = environment
    }
}

/// A stored push-to-start token; timestamps and dead state as in ``ActivityTokenRecord``.
public struct PushToStartRecord: Hashable, Sendable {
    /// What was registered (token lowercased).
    public var registration: PushToStartRegistration
    /// When the (user, device, app) triple was first registered, epoch seconds.
    public var createdAt: Int64
    /// The last registration of this token, epoch seconds.
    public var updatedAt: Int64
    /// When APNs last reported the token invalid, while it is dead.
    public var deadAt: Int64?
    /// Why it is dead, while it is dead.
    public var deadReason: String?

    /// Creates a record.
    public init(
        registration: PushToStartRegistration,
        createdAt: Int64,
        updatedAt: Int64,
        deadAt: Int64? = nil,
        deadReason: String? = nil
    ) {
        self.registration = registration
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.deadAt = deadAt
        self.deadReason = deadReason
    }

    /// Whether APNs reported the token invalid after its last registration.
    public var isDead: Bool { self.deadAt != nil }
    /// ``PushToStartRegistration/userID``.
    public var userID: String { self.registration.userID }
    /// ``PushToStartRegistration/token``.
    public var token: String { self.registration.token }
}

/// What a registration changed.
public enum RegistrationOutcome: Hashable, Sendable {
    /// A new registration was stored.
    case created
    /// The same registration was already stored and live; only its ``ActivityTokenRecord/updatedAt``
    /// moved forward.
    case unchanged
    /// The same token, with other details (stream, environment) changed.
    case updated
    /// The same token, which was dead, registered again after its death: live again.
    case revived
    /// A new token for the same key (activity and device, or user, device and app); the old token
    /// is forgotten and must not be used again.
    case replaced(oldToken: String)
    /// The token is dead and this registration is not newer than its death (see
    /// ``LiveActivityRegistry``): nothing was changed and the token stays dead.
    case stillDead(since: Int64)
}
