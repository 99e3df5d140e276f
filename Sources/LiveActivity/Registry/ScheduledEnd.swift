import NIOCore

/// A request to end a Live Activity at a given time.
public struct ScheduledEndRequest: Hashable, Sendable {
    /// The caller's ID for the schedule (so a retried request is recognised), or `nil` for a
    /// generated one.
    public var id: String?
    /// The activity to end: the end push goes to its live update tokens.
    public var activityID: String
    /// The app's bundle ID.
    public var app: String
    /// When to send the end push, epoch seconds.
    public var fireAt: Int64
    /// The final `content-state`, one JSON object (APNs wants it with every end push).
    public var contentState: String
    /// The end push's `dismissal-date`, epoch seconds, if any.
    public var dismissalDate: Int64?

    /// Creates a request.
    public init(
        id: String? = nil,
        activityID: String,
        app: String,
        fireAt: Int64,
        contentState: String,
        dismissalDate: Int64? = nil
    ) {
        self.id = id
        self.activityID = activityID
        self.app = app
        self.fireAt = fireAt
        self.contentState = contentState
        self.dismissalDate = dismissalDate
    }
}

/// A stored scheduled end and where it is in its life.
///
/// States: `pending` → (claimed by ``LiveActivityRegistry/claimDue(now:limit:)``) `firing` →
/// (``LiveActivityRegistry/markDone(scheduledEndID:)``) `done`, or
/// (``LiveActivityRegistry/markFailed(scheduledEndID:reason:)``) `failed` with a reason;
/// `pending` → `cancelled` by ``LiveActivityRegistry/cancel(scheduledEndID:)``. An end left in
/// `firing` was claimed but its sending was never confirmed (the process stopped in between).
public struct ScheduledEnd: Hashable, Sendable {
    /// Where a scheduled end is in its life.
    public enum State: String, Sendable, Hashable, CaseIterable {
        /// Waiting for its time.
        case pending
        /// Claimed for sending; never returned by a claim again.
        case firing
        /// Sent (the claimer confirmed it).
        case done
        /// Cancelled before it was claimed.
        case cancelled
        /// Claimed, and then not delivered: APNs refused it for every token, or the stored end
        /// could not make a valid push. ``ScheduledEnd/failureReason`` says why.
        case failed
    }

    /// The schedule's ID (the caller's, or a generated 32-digit hex string).
    public var id: String
    /// The activity to end.
    public var activityID: String
    /// The app's bundle ID.
    public var app: String
    /// When to send the end push, epoch seconds.
    public var fireAt: Int64
    /// The final `content-state`; `nil` only for an end stored by an older build, which cannot
    /// be sent (its ``payload`` does not encode).
    public var contentState: String?
    /// The end push's `dismissal-date`, if any.
    public var dismissalDate: Int64?
    /// The current state.
    public var state: State
    /// When it was scheduled, epoch seconds.
    public var createdAt: Int64
    /// When it was claimed, epoch seconds, once claimed.
    public var claimedAt: Int64?
    /// Why it is `failed` (APNs's answers, or why no push could be made); `nil` in other states.
    public var failureReason: String?
    /// Whether the end may have been sent already: a store with leases (PostgreSQL) sets it when it hands an
    /// end whose claimer's lease ran out (that gateway died or stalled, perhaps after sending) to another
    /// claimer. Such an end is sent at least once rather than exactly once. Always `false` on SQLite.
    public var possiblySent: Bool

    /// Creates a value.
    public init(
        id: String,
        activityID: String,
        app: String,
        fireAt: Int64,
        contentState: String?,
        dismissalDate: Int64?,
        state: State,
        createdAt: Int64,
        claimedAt: Int64?,
        failureReason: String? = nil,
        possiblySent: Bool = false
    ) {
        self.id = id
        self.activityID = activityID
        self.app = app
        self.fireAt = fireAt
        self.contentState = contentState
        self.dismissalDate = dismissalDate
        self.state = state
        self.createdAt = createdAt
        self.claimedAt = claimedAt
        self.failureReason = failureReason
        self.possiblySent = possiblySent
    }

    /// The end push to send: `event` `end` with the final content and dismissal date. Encode it
    /// with ``LiveActivityPayload/encode(now:)``, which throws
    /// ``LiveActivityPayloadError/missingContentState(_:)`` for an end stored without content.
    public var payload: LiveActivityPayload {
        LiveActivityPayload(
            event: .end, contentState: self.contentState.map { ByteBuffer(string: $0) },
            dismissalDate: self.dismissalDate)
    }

    /// The longest ``failureReason`` stored, in bytes; a longer one is cut.
    public static let maxFailureReasonLength = 512

    /// `reason` cut to at most ``maxFailureReasonLength`` bytes, on a character boundary, with `…`.
    package static func storedReason(_ reason: String) -> String {
        guard reason.utf8.count > maxFailureReasonLength else { return reason }
        var cut = ""
        for character in reason {
            if cut.utf8.count + character.utf8.count > maxFailureReasonLength - 3 { break }
            cut.append(character)
        }
        return cut + "…"
    }

    /// Whether the request describes this same schedule (a retry of the request that created it).
    package func matches(_ request: ScheduledEndRequest) -> Bool {
        self.activityID == request.activityID && self.app == request.app && self.fireAt == request.fireAt
            && self.contentState == request.contentState && self.dismissalDate == request.dismissalDate
    }
}
