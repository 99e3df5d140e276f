import JSON
import NIOCore

/// One push request for APNs: the device token, the payload bytes and the `apns-*` headers.
///
/// A plain value with no behaviour of its own besides ``validate()`` and header encoding
/// (``APNsHeaderEncoder``). The payload is carried as the bytes the caller gave and is forwarded
/// to APNs exactly as given: it is checked, never decoded and re-encoded.
public struct APNsNotification: Sendable, Hashable {
    /// The device token (or Live Activity update / push-to-start token) as hex; it becomes the
    /// `:path` `/3/device/<token>`. Its length is not assumed (64 hex digits today). The same token as ``token``.
    public var deviceToken: String {
        get { token.string }
        set { token = APNsDeviceToken(newValue) }
    }
    /// The device token, kept as 32 bytes when it is 64 lowercase hex digits (see ``APNsDeviceToken``).
    public var token: APNsDeviceToken
    /// The JSON payload, forwarded byte for byte.
    public var payload: ByteBuffer {
        didSet { payloadIsCheckedObject = false }
    }
    /// Whether ``payload`` is known to be one JSON object (it came as ``JSONObjectBytes``): ``validate()`` then
    /// checks its size only, instead of scanning it again.
    public private(set) var payloadIsCheckedObject = false
    /// `apns-push-type`.
    public var pushType: APNsPushType
    /// `apns-topic`: the bundle ID plus the push type's suffix (see ``APNsPushType/topic(forBundleID:)``).
    public var topic: String
    /// `apns-priority`; `nil` omits the header (APNs then uses 10).
    public var priority: APNsPriority?
    /// `apns-expiration` in seconds since the epoch; `0` asks APNs to try once and not store the
    /// notification; `nil` omits the header (APNs's storage policy applies).
    public var expiration: Int64?
    /// `apns-collapse-id`: at most 64 bytes of UTF-8; `nil` omits the header.
    public var collapseID: String?
    /// `apns-id`: a canonical UUID (8-4-4-4-12 hex digits); `nil` lets APNs generate one.
    public var apnsID: String?

    /// Creates a notification; the optional headers default to omitted.
    public init(
        deviceToken: String,
        payload: ByteBuffer,
        pushType: APNsPushType,
        topic: String,
        priority: APNsPriority? = nil,
        expiration: Int64? = nil,
        collapseID: String? = nil,
        apnsID: String? = nil
    ) {
        self.init(
            token: APNsDeviceToken(deviceToken), payload: payload, pushType: pushType, topic: topic, priority: priority,
            expiration: expiration, collapseID: collapseID, apnsID: apnsID)
    }

    /// Creates a notification for a token already made (the intake's, read from the request without a string).
    public init(
        token: APNsDeviceToken,
        payload: ByteBuffer,
        pushType: APNsPushType,
        topic: String,
        priority: APNsPriority? = nil,
        expiration: Int64? = nil,
        collapseID: String? = nil,
        apnsID: String? = nil
    ) {
        self.token = token
        self.payload = payload
        self.pushType = pushType
        self.topic = topic
        self.priority = priority
        self.expiration = expiration
        self.collapseID = collapseID
        self.apnsID = apnsID
    }

    /// Creates a notification whose payload a JSON scan has already checked (the intake's); the scan travels with
    /// it, so ``validate()`` does not repeat it.
    public init(
        deviceToken: String,
        payload: JSONObjectBytes,
        pushType: APNsPushType,
        topic: String,
        priority: APNsPriority? = nil,
        expiration: Int64? = nil,
        collapseID: String? = nil,
        apnsID: String? = nil
    ) {
        self.init(
            token: APNsDeviceToken(deviceToken), payload: payload, pushType: pushType, topic: topic, priority: priority,
            expiration: expiration, collapseID: collapseID, apnsID: apnsID)
    }

    /// ``init(deviceToken:payload:pushType:topic:priority:expiration:collapseID:apnsID:)-(String,JSONObjectBytes,_,_,_,_,_,_)``
    /// for a token already made.
    public init(
        token: APNsDeviceToken,
        payload: JSONObjectBytes,
        pushType: APNsPushType,
        topic: String,
        priority: APNsPriority? = nil,
        expiration: Int64? = nil,
        collapseID: String? = nil,
        apnsID: String? = nil
    ) {
        self.init(
            token: token, payload: payload.buffer, pushType: pushType, topic: topic, priority: priority,
            expiration: expiration, collapseID: collapseID, apnsID: apnsID)
        self.payloadIsCheckedObject = true
    }

    /// Replaces the payload with `copy`, the same bytes in other storage: the payload's check still holds.
    public mutating func replacePayload(withCopy copy: ByteBuffer) {
        assert(copy == payload, "a payload's copy must hold the same bytes")
        let checked = payloadIsCheckedObject
        payload = copy
        payloadIsCheckedObject = checked
    }
}
