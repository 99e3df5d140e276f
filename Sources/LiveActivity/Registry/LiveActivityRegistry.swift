/// Durable storage for Live Activity tokens and scheduled ends.
///
/// All times are epoch seconds passed in by the caller (its clock), so behaviour is the same in
/// tests and in production. Tokens are validated (even number of hex digits) and stored lowercased;
/// identifiers must be non-empty, at most ``RegistryInput/maxIdentifierLength`` bytes, without control
/// characters.
///
/// ## Update tokens
/// Keyed by (activity, device); a token belongs to exactly one key and one app. Registering:
/// - a new key → ``RegistrationOutcome/created``;
/// - the same key, token and details → ``RegistrationOutcome/unchanged`` (only `updatedAt` moves);
/// - the same key and token, other stream or environment → ``RegistrationOutcome/updated``;
/// - the same key with a new token → ``RegistrationOutcome/replaced(oldToken:)``;
/// - a token already held by another key, or a key held by another app →
///   ``LiveActivityRegistryError/tokenConflict(token:registeredTo:)`` /
///   ``LiveActivityRegistryError/appMismatch(key:registeredApp:requestedApp:)``.
///
/// ## Push-to-start tokens
/// Keyed by (user, device, app), same outcomes. A push-to-start token belongs to one device and
/// app; registering it for another user on that same device and app moves it (the previous user's
/// registration is removed), as happens when someone else signs in. Registering it for another
/// device or app is a conflict.
///
/// ## Dead tokens
/// ``markDead(token:at:reason:)`` applies to both kinds of token. The rule compares times:
/// - a token is marked dead at `at` only if its last registration (`updatedAt`) is not after
///   `at`: a registration made after APNs's verdict wins (APNs: stop sending "unless the device
///   registers the token again with a later timestamp");
/// - a later registration of the same token revives it only if it is strictly after the death
///   (``RegistrationOutcome/revived``); one at or before it changes nothing
///   (``RegistrationOutcome/stillDead(since:)``). A new token for the key replaces the dead one.
/// - Dead tokens are never returned by the token queries; they stay stored (visible through
///   ``activityToken(activityID:deviceID:)``) until unregistered.
///
/// For a 410 (`Unregistered`) pass APNs's timestamp in seconds (its body gives milliseconds:
/// divide by 1000); for `BadDeviceToken` pass the current time.
///
/// ## Scheduled ends: exactly-once by claim
/// ``claimDue(now:limit:)`` moves due `pending` ends to `firing` in one transaction and returns
/// them; a later claim, by this or any other process sharing the database, never returns them
/// again. The claimer sends the end push and then calls ``markDone(scheduledEndID:)``, or
/// ``markFailed(scheduledEndID:reason:)`` when it was not delivered (APNs refused it). Firing is
/// therefore at most once; if the process stops between claim and send, the end stays `firing`,
/// visible through ``scheduledEnds(state:)``, and an operator or a recovery routine decides with
/// ``release(scheduledEndID:)`` (back to `pending`, so a later claim sends it: at least once)
/// or ``markDone(scheduledEndID:)``.
///
/// A store whose claims are leases (``claimsAreLeases``: PostgreSQL) differs in one way: an end still `firing` when
/// its claimer's lease has run out is returned by a later claim again, with ``ScheduledEnd/possiblySent`` set
/// (its first claimer may have sent it before dying), so no end is lost when a gateway dies and the only repeats
/// are flagged.
public protocol LiveActivityRegistry: AnyObject, Sendable {
    /// Closes the store; later calls throw ``LiveActivityRegistryError/closed``. Closing twice is harmless.
    func close()
    /// How many calls the store can serve at once (its connections): the service runs that many calls in
    /// parallel. 1 for SQLite, which serialises every call on its one connection.
    var concurrentCalls: Int { get }
    /// Whether a claim of a scheduled end is a lease that another claimer takes over once it runs out (marking the
    /// end ``ScheduledEnd/possiblySent``): true for PostgreSQL; false for SQLite, where an end left `firing` waits
    /// for ``release(scheduledEndID:)``.
    var claimsAreLeases: Bool { get }

    // MARK: Update tokens

    /// Registers an activity's update token on a device at time `now`.
    func register(_ registration: ActivityTokenRegistration, at now: Int64) throws(LiveActivityRegistryError)
        -> RegistrationOutcome
    /// Removes the activity's token on `deviceID`, or on every device when `nil`; returns how many
    /// were removed.
    func unregister(activityID: String, deviceID: String?) throws(LiveActivityRegistryError) -> Int
    /// Removes a token wherever it is registered (update and push-to-start); returns how many
    /// registrations were removed.
    func unregister(token: String) throws(LiveActivityRegistryError) -> Int
    /// The update tokens of one activity (ordered by device ID) or of every activity in one stream (ordered by
    /// activity ID then device ID), the dead ones (``ActivityTokenRecord/isDead``) only with `includingDead`. The
    /// named forms (``tokens(forActivity:)``, ``allTokens(forStream:)``, …) are in an extension.
    func tokens(_ listing: ActivityTokenListing, _ id: String, includingDead: Bool) throws(LiveActivityRegistryError)
        -> [ActivityTokenRecord]
    /// The stored registration of (activity, device), dead or alive.
    func activityToken(activityID: String, deviceID: String) throws(LiveActivityRegistryError) -> ActivityTokenRecord?

    // MARK: Push-to-start tokens

    /// Registers a user's push-to-start token on a device for an app at time `now`.
    func registerPushToStart(_ registration: PushToStartRegistration, at now: Int64) throws(LiveActivityRegistryError)
        -> RegistrationOutcome
    /// Removes a user's push-to-start token on a device for an app; returns whether one was removed.
    func unregisterPushToStart(userID: String, deviceID: String, app: String) throws(LiveActivityRegistryError) -> Bool
    /// The push-to-start tokens of the given users for an app, in the order of `userIDs` (duplicates ignored),
    /// then by device ID; the dead ones only with `includingDead`. The named forms
    /// (``pushToStartTokens(forUsers:app:)``, ``allPushToStartTokens(forUsers:app:)``) are in an extension.
    func pushToStartTokens(forUsers userIDs: [String], app: String, includingDead: Bool)
        throws(LiveActivityRegistryError) -> [PushToStartRecord]
    /// The stored push-to-start registration of (user, device, app), dead or alive.
    func pushToStartToken(userID: String, deviceID: String, app: String) throws(LiveActivityRegistryError)
        -> PushToStartRecord?

    // MARK: Dead tokens

    /// Records that APNs reported `token` invalid at `at` (see the rule above); returns how many
    /// registrations were marked dead.
    func markDead(token: String, at: Int64, reason: String) throws(LiveActivityRegistryError) -> Int
    /// The tokens among `tokens` that are registered (either kind) and dead, lowercased. Tokens that are
    /// not valid hex are not registered, so never in the result.
    func deadTokens(among tokens: [String]) throws(LiveActivityRegistryError) -> Set<String>

    // MARK: Scheduled ends

    /// Stores a scheduled end (`pending`) at time `now`. Repeating a request with the same ID and
    /// details returns the stored end unchanged, whatever its state; the same ID with other
    /// details is ``LiveActivityRegistryError/scheduleConflict(id:)``.
    func schedule(_ request: ScheduledEndRequest, at now: Int64) throws(LiveActivityRegistryError) -> ScheduledEnd
    /// Cancels a `pending` end; returns `false` if there is none with that ID or it is no longer
    /// pending.
    func cancel(scheduledEndID: String) throws(LiveActivityRegistryError) -> Bool
    /// The `pending` ends with `fireAt <= now`, ordered by `fireAt` then ID, without claiming them.
    func due(now: Int64) throws(LiveActivityRegistryError) -> [ScheduledEnd]
    /// Atomically moves up to `limit` due `pending` ends to `firing` and returns them, ordered by
    /// `fireAt` then ID. Each end is returned by at most one claim, ever.
    func claimDue(now: Int64, limit: Int) throws(LiveActivityRegistryError) -> [ScheduledEnd]
    /// Marks a `firing` end `done`; returns `false` if there is none with that ID in `firing`.
    func markDone(scheduledEndID: String) throws(LiveActivityRegistryError) -> Bool
    /// Marks a `firing` end `failed` with why (stored, cut to ``ScheduledEnd/maxFailureReasonLength``
    /// bytes); returns `false` if there is none with that ID in `firing`.
    func markFailed(scheduledEndID: String, reason: String) throws(LiveActivityRegistryError) -> Bool
    /// Returns a `firing` end to `pending` so that a later claim sends it again; returns `false` if
    /// there is none with that ID in `firing`.
    func release(scheduledEndID: String) throws(LiveActivityRegistryError) -> Bool
    /// The scheduled end with this ID, in any state.
    func scheduledEnd(id: String) throws(LiveActivityRegistryError) -> ScheduledEnd?
    /// The scheduled ends in a state, ordered by `fireAt` then ID.
    func scheduledEnds(state: ScheduledEnd.State) throws(LiveActivityRegistryError) -> [ScheduledEnd]
    /// How many scheduled ends there are, by app (bundle ID) and state; combinations without any are absent.
    func scheduledEndCounts() throws(LiveActivityRegistryError) -> [ScheduledEndCount]

    // MARK: Ended activities

    /// Records that the activities ended at `at`; one already recorded keeps its first time. Returns how many
    /// were newly recorded.
    func markEnded(activityIDs: [String], at: Int64) throws(LiveActivityRegistryError) -> Int
    /// The activities among `activityIDs` that ended, with the time each ended.
    func endedActivities(among activityIDs: [String]) throws(LiveActivityRegistryError) -> [String: Int64]
    /// Removes up to `limit` activities that ended at or before `endedAtOrBefore`, oldest first, with all their
    /// update tokens; returns what was removed (fewer than `limit` activities: nothing older is left).
    func pruneEndedActivities(endedAtOrBefore: Int64, limit: Int) throws(LiveActivityRegistryError) -> PrunedActivities

    // MARK: Broadcast channels

    /// Stores a channel created at APNs (the same ID again replaces it).
    func saveChannel(_ channel: BroadcastChannelRecord) throws(LiveActivityRegistryError)
    /// Forgets a channel and every binding to it (deleted, or APNs answered `ChannelNotRegistered`); returns
    /// whether it was stored.
    func deleteChannel(id: String) throws(LiveActivityRegistryError) -> Bool
    /// The channel with this ID.
    func channel(id: String) throws(LiveActivityRegistryError) -> BroadcastChannelRecord?
    /// The channels of an app in an environment, ordered by ID.
    func channels(app: String, environment: String) throws(LiveActivityRegistryError) -> [BroadcastChannelRecord]
    /// Binds an activity or a stream to a channel (replacing an earlier binding of that subject), or unbinds it
    /// when `channelID` is nil.
    func bind(_ subject: ChannelSubject, to channelID: String?, at now: Int64) throws(LiveActivityRegistryError)
    /// The channel an activity or stream is bound to.
    func boundChannel(of subject: ChannelSubject) throws(LiveActivityRegistryError) -> String?
}

extension LiveActivityRegistry {
    public var concurrentCalls: Int { 1 }
    public var claimsAreLeases: Bool { false }

    /// The live (not dead) update tokens of an activity, ordered by device ID.
    public func tokens(forActivity activityID: String) throws(LiveActivityRegistryError) -> [ActivityTokenRecord] {
        try tokens(.activity, activityID, includingDead: false)
    }

    /// Every update token of an activity, dead ones included (``ActivityTokenRecord/isDead``), ordered by
    /// device ID.
    public func allTokens(forActivity activityID: String) throws(LiveActivityRegistryError) -> [ActivityTokenRecord] {
        try tokens(.activity, activityID, includingDead: true)
    }

    /// The live update tokens of every activity in a stream, ordered by activity ID then device ID.
    public func tokens(forStream streamID: String) throws(LiveActivityRegistryError) -> [ActivityTokenRecord] {
        try tokens(.stream, streamID, includingDead: false)
    }

    /// Every update token of every activity in a stream, dead ones included, ordered by activity ID then
    /// device ID.
    public func allTokens(forStream streamID: String) throws(LiveActivityRegistryError) -> [ActivityTokenRecord] {
        try tokens(.stream, streamID, includingDead: true)
    }

    /// The live push-to-start tokens of the given users for an app, in the order of `userIDs`
    /// (duplicates ignored), then by device ID.
    public func pushToStartTokens(forUsers userIDs: [String], app: String) throws(LiveActivityRegistryError)
        -> [PushToStartRecord]
    {
        try pushToStartTokens(forUsers: userIDs, app: app, includingDead: false)
    }

    /// Every push-to-start token of the given users for an app, dead ones included, in the order of
    /// `userIDs` (duplicates ignored), then by device ID.
    public func allPushToStartTokens(forUsers userIDs: [String], app: String) throws(LiveActivityRegistryError)
        -> [PushToStartRecord]
    {
        try pushToStartTokens(forUsers: userIDs, app: app, includingDead: true)
    }
}
