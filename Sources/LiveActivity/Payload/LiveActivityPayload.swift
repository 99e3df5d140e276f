import APNsCore
import JSON
import NIOCore

/// What a Live Activity push does: the `aps.event` value.
public enum LiveActivityEvent: String, Sendable, Hashable, CaseIterable {
    /// Starts a Live Activity with a push-to-start token (iOS 17.2+).
    case start
    /// Updates the content of a running Live Activity.
    case update
    /// Ends a Live Activity with its final content, optionally with a dismissal date.
    case end
}

/// The alert of a Live Activity push: required with `start`, optional with `update` and `end`.
public struct LiveActivityAlert: Hashable, Sendable {
    /// A title or body: literal text, or a key into the app's `Localizable.strings` with the
    /// values for its format specifiers.
    public enum Text: Hashable, Sendable {
        /// Shown as it is; encoded as a JSON string.
        case plain(String)
        /// Localised on the device; encoded as `{"loc-key":"...","loc-args":[...]}` (`loc-args`
        /// left out when empty).
        case localized(key: String, arguments: [String] = [])
    }

    /// The alert's title.
    public var title: Text?
    /// The alert's body.
    public var body: Text?
    /// The name of a sound file in the app bundle, or `"default"`.
    public var sound: String?

    /// Creates an alert; at least one of `title` and `body` must be given for it to validate.
    public init(title: Text? = nil, body: Text? = nil, sound: String? = nil) {
        self.title = title
        self.body = body
        self.sound = sound
    }
}

/// The JSON payload of one Live Activity push, `{"aps":{...}}`, built and checked without I/O.
///
/// Raw JSON given by the caller (`content-state`, `attributes`) is checked to be one JSON object
/// and copied byte for byte, never decoded and re-encoded. Dates are epoch seconds (parse text with
/// ``LiveActivityDate/parse(_:)``).
///
/// ## Key order
/// Members of `aps` are always written in this order, each only when present:
/// `timestamp`, `event`, `content-state`, `attributes-type`, `attributes`, `alert`, `stale-date`,
/// `dismissal-date`, `relevance-score`, `input-push-token`, `input-push-channel`.
/// Inside `alert`: `title`, `body`, `sound`; inside a localised text: `loc-key`, `loc-args`.
/// The output is compact (no whitespace outside the caller's raw JSON).
///
/// ## Rules by event
/// | key | start | update | end |
/// |---|---|---|---|
/// | `content-state` | required | required | required (the final content: APNs wants it with `end`) |
/// | `attributes-type`, `attributes` | required | rejected | rejected |
/// | `alert` | required | optional | optional |
/// | `stale-date` | optional | optional | optional |
/// | `dismissal-date` | rejected | optional | optional |
/// | `input-push-token`, `input-push-channel` | optional | rejected | rejected |
public struct LiveActivityPayload: Hashable, Sendable {
    /// The largest payload APNs accepts for a Live Activity push, in bytes.
    public static let maxSize = APNsPushType.liveactivity.maxPayloadSize

    /// `event`: start, update or end.
    public var event: LiveActivityEvent
    /// `timestamp` in epoch seconds; when `nil`, ``encode(now:)`` uses its `now`. The device shows
    /// the push with the newest timestamp and ignores older ones.
    public var timestamp: Int64?
    /// `content-state`: one JSON object (the app's `ContentState`, with default `Codable`
    /// decoding), copied as given with surrounding whitespace removed.
    public var contentState: ByteBuffer?
    /// `attributes-type`: the name of the app's `ActivityAttributes` type (start only).
    public var attributesType: String?
    /// `attributes`: one JSON object with the activity's static values (start only).
    public var attributes: ByteBuffer?
    /// `alert`: required with `start`.
    public var alert: LiveActivityAlert?
    /// `stale-date` in epoch seconds: when the system marks the content out of date.
    public var staleDate: Int64?
    /// `dismissal-date` in epoch seconds (update and end): when an ended activity leaves the Lock
    /// Screen; a past date removes it at once.
    public var dismissalDate: Int64?
    /// `relevance-score`: orders simultaneous activities; the highest gets the Dynamic Island.
    public var relevanceScore: Double?
    /// Writes `"input-push-token":1` (start only, iOS 18): the started activity requests an
    /// update token.
    public var inputPushToken: Bool
    /// `input-push-channel` (start only, iOS 18): the broadcast channel the started activity
    /// subscribes to.
    public var inputPushChannel: String?

    /// Creates a payload; set the optional members afterwards or pass them here.
    public init(
        event: LiveActivityEvent,
        timestamp: Int64? = nil,
        contentState: ByteBuffer? = nil,
        attributesType: String? = nil,
        attributes: ByteBuffer? = nil,
        alert: LiveActivityAlert? = nil,
        staleDate: Int64? = nil,
        dismissalDate: Int64? = nil,
        relevanceScore: Double? = nil,
        inputPushToken: Bool = false,
        inputPushChannel: String? = nil
    ) {
        self.event = event
        self.timestamp = timestamp
        self.contentState = contentState
        self.attributesType = attributesType
        self.attributes = attributes
        self.alert = alert
        self.staleDate = staleDate
        self.dismissalDate = dismissalDate
        self.relevanceScore = relevanceScore
        self.inputPushToken = inputPushToken
        self.inputPushChannel = inputPushChannel
    }

    /// A start payload: the content, the attributes and the alert are all required.
    public static func start(
        contentState: ByteBuffer,
        attributesType: String,
        attributes: ByteBuffer,
        alert: LiveActivityAlert,
        timestamp: Int64? = nil
    ) -> LiveActivityPayload {
        LiveActivityPayload(
            event: .start, timestamp: timestamp, contentState: contentState, attributesType: attributesType,
            attributes: attributes, alert: alert)
    }

    /// An update payload.
    public static func update(contentState: ByteBuffer, timestamp: Int64? = nil) -> LiveActivityPayload {
        LiveActivityPayload(event: .update, timestamp: timestamp, contentState: contentState)
    }

    /// An end payload with the final content (APNs requires `content-state` with `end`).
    public static func end(
        contentState: ByteBuffer,
        dismissalDate: Int64? = nil,
        timestamp: Int64? = nil
    ) -> LiveActivityPayload {
        LiveActivityPayload(event: .end, timestamp: timestamp, contentState: contentState, dismissalDate: dismissalDate)
    }

    /// Checks the rules that do not depend on the encoded size, in this order (the first failure
    /// is thrown): dates not negative; `content-state` present (every event needs it) and a JSON object;
    /// attributes present for start (type non-empty, value a JSON object) and absent otherwise;
    /// alert present for start and with a title or body, no empty texts; `dismissal-date` not on
    /// start; input-push members only on start, channel non-empty; relevance score finite.
    public func validate() throws(LiveActivityPayloadError) {
        try Self.checkDate(self.timestamp, field: "timestamp")
        try Self.checkDate(self.staleDate, field: "stale-date")
        try Self.checkDate(self.dismissalDate, field: "dismissal-date")

        guard let contentState = self.contentState else { throw .missingContentState(self.event) }
        do {
            try JSONReader.validateObject(contentState)
        } catch {
            throw .contentStateNotObject(error)
        }

        if self.event == .start {
            guard let attributesType = self.attributesType, let attributes = self.attributes else {
                throw .startNeedsAttributes
            }
            guard !attributesType.isEmpty else { throw .emptyValue(field: "attributes-type") }
            do {
                try JSONReader.validateObject(attributes)
            } catch {
                throw .attributesNotObject(error)
            }
            guard self.alert != nil else { throw .startNeedsAlert }
        } else if self.attributesType != nil || self.attributes != nil {
            throw .attributesOnlyForStart(self.event)
        }

        if let alert = self.alert {
            try Self.checkAlert(alert)
        }

        if self.event == .start {
            if self.dismissalDate != nil {
                throw .dismissalDateNotForStart
            }
            if let channel = self.inputPushChannel, channel.isEmpty {
                throw .emptyValue(field: "input-push-channel")
            }
        } else {
            if self.inputPushToken {
                throw .inputPushOnlyForStart(field: "input-push-token", event: self.event)
            }
            if self.inputPushChannel != nil {
                throw .inputPushOnlyForStart(field: "input-push-channel", event: self.event)
            }
        }

        if let score = self.relevanceScore, !score.isFinite {
            throw .badRelevanceScore("\(score)")
        }
    }

    private static func checkDate(_ value: Int64?, field: String) throws(LiveActivityPayloadError) {
        if let value, value < 0 {
            throw .badDate(field: field, value: String(value))
        }
    }

    private static func checkAlert(_ alert: LiveActivityAlert) throws(LiveActivityPayloadError) {
        guard alert.title != nil || alert.body != nil else { throw .alertWithoutText }
        try checkText(alert.title, field: "alert.title")
        try checkText(alert.body, field: "alert.body")
        if let sound = alert.sound, sound.isEmpty {
            throw .emptyValue(field: "alert.sound")
        }
    }

    private static func checkText(_ text: LiveActivityAlert.Text?, field: String) throws(LiveActivityPayloadError) {
        switch text {
        case .plain(let string) where string.isEmpty:
            throw .emptyValue(field: field)
        case .localized(let key, _) where key.isEmpty:
            throw .emptyValue(field: field + ".loc-key")
        default:
            return
        }
    }
}
