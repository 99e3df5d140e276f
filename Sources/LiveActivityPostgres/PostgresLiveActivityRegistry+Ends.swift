import LiveActivity
import Logging
import PostgresNIO

extension PostgresLiveActivityRegistry {
    static let endColumns =
        "id, activity_id, app, fire_at, content_state, dismissal_date, state, created_at, claimed_at, failure_reason, possibly_sent"

    static let returnedColumns =
        "e.id, e.activity_id, e.app, e.fire_at, e.content_state, e.dismissal_date, e.state, e.created_at, e.claimed_at, e.failure_reason, e.possibly_sent"

    // MARK: Scheduled ends

    public func schedule(_ request: ScheduledEndRequest, at now: Int64) throws(LiveActivityRegistryError) -> ScheduledEnd {
        let end = try request.checked(at: now)
        return try self.run("scheduling an end") { connection in
            let logger = Self.queryLogger
            let inserted = try await connection.query(
                "INSERT INTO scheduled_ends (id, activity_id, app, fire_at, content_state, dismissal_date, state, created_at) VALUES (\(end.id), \(end.activityID), \(end.app), \(end.fireAt), \(end.contentState), \(end.dismissalDate), 'pending', \(now)) ON CONFLICT (id) DO NOTHING RETURNING 1",
                logger: logger
            ).count()
            if inserted > 0 { return end }
            guard let existing = try await connection.query(
                "SELECT \(unescaped: Self.endColumns) FROM scheduled_ends WHERE id = \(end.id)", logger: logger
            ).collect(Self.scheduledEnd).first else {
                throw LiveActivityRegistryError.postgres(
                    operation: "scheduling an end", sqlState: nil, message: "the end vanished while being scheduled")
            }
            guard existing.matches(request) else { throw LiveActivityRegistryError.scheduleConflict(id: end.id) }
            return existing
        }
    }

    public func cancel(scheduledEndID: String) throws(LiveActivityRegistryError) -> Bool {
        try self.update(scheduledEndID, "cancelling a scheduled end") { id in
            "UPDATE scheduled_ends SET state = 'cancelled' WHERE id = \(id) AND state = 'pending' RETURNING 1"
        }
    }

    public func markDone(scheduledEndID: String) throws(LiveActivityRegistryError) -> Bool {
        try self.update(scheduledEndID, "marking a scheduled end done") { id in
            "UPDATE scheduled_ends SET state = 'done', lease_until = NULL WHERE id = \(id) AND state = 'firing' RETURNING 1"
        }
    }

    public func release(scheduledEndID: String) throws(LiveActivityRegistryError) -> Bool {
        try self.update(scheduledEndID, "releasing a scheduled end") { id in
            "UPDATE scheduled_ends SET state = 'pending', claimed_at = NULL, claimed_by = NULL, lease_until = NULL WHERE id = \(id) AND state = 'firing' RETURNING 1"
        }
    }

    public func markFailed(scheduledEndID: String, reason: String) throws(LiveActivityRegistryError) -> Bool {
        let stored = ScheduledEnd.storedReason(reason)
        return try self.update(scheduledEndID, "marking a scheduled end failed") { id in
            "UPDATE scheduled_ends SET state = 'failed', failure_reason = \(stored), lease_until = NULL WHERE id = \(id) AND state = 'firing' RETURNING 1"
        }
    }

    private func update(
        _ id: String,
        _ operation: String,
        _ query: @escaping @Sendable (String) -> PostgresQuery
    ) throws(LiveActivityRegistryError) -> Bool {
        try RegistryInput.checkIdentifier(id, field: "id")
        return try self.run(operation) { connection in
            try await connection.query(query(id), logger: Self.queryLogger).count() > 0
        }
    }

    public func due(now: Int64) throws(LiveActivityRegistryError) -> [ScheduledEnd] {
        try self.run("reading due scheduled ends") { connection in
            try await connection.query(
                "SELECT \(unescaped: Self.endColumns) FROM scheduled_ends WHERE state = 'pending' AND fire_at <= \(now) ORDER BY fire_at, id",
                logger: Self.queryLogger
            ).collect(Self.scheduledEnd)
        }
    }

    /// Claims due `pending` ends, and `firing` ends whose lease ran out before `now` (marked ``ScheduledEnd/possiblySent``),
    /// for this gateway until `now + leaseSeconds`.
    public func claimDue(now: Int64, limit: Int) throws(LiveActivityRegistryError) -> [ScheduledEnd] {
        guard limit > 0 else { return [] }
        let claimer = self.claimerID
        let leaseUntil = now + self.configuration.leaseSeconds
        let limit = Int64(limit)
        let claimed = try self.run("claiming due scheduled ends") { connection in
            // Expired leases first (their ends are the most overdue), then due pending ends: two statements, each
            // on its partial index, rather than one OR that scans the table.
            var ends = try await connection.query(
                """
                WITH due AS (SELECT id FROM scheduled_ends WHERE state = 'firing' AND lease_until < \(now) ORDER BY lease_until, id LIMIT \(limit) FOR UPDATE SKIP LOCKED) \
                UPDATE scheduled_ends AS e SET claimed_at = \(now), claimed_by = \(claimer), lease_until = \(leaseUntil), possibly_sent = true \
                FROM due WHERE e.id = due.id \
                RETURNING \(unescaped: Self.returnedColumns)
                """,
                logger: Self.queryLogger
            ).collect(Self.scheduledEnd)
            let room = limit - Int64(ends.count)
            if room > 0 {
                ends += try await connection.query(
                    """
                    WITH due AS (SELECT id FROM scheduled_ends WHERE state = 'pending' AND fire_at <= \(now) ORDER BY fire_at, id LIMIT \(room) FOR UPDATE SKIP LOCKED) \
                    UPDATE scheduled_ends AS e SET state = 'firing', claimed_at = \(now), claimed_by = \(claimer), lease_until = \(leaseUntil) \
                    FROM due WHERE e.id = due.id \
                    RETURNING \(unescaped: Self.returnedColumns)
                    """,
                    logger: Self.queryLogger
                ).collect(Self.scheduledEnd)
            }
            return ends
        }
        return claimed.sorted {
            $0.fireAt != $1.fireAt ? $0.fireAt < $1.fireAt : $0.id.utf8.lexicographicallyPrecedes($1.id.utf8)
        }
    }

    public func scheduledEnd(id: String) throws(LiveActivityRegistryError) -> ScheduledEnd? {
        try RegistryInput.checkIdentifier(id, field: "id")
        return try self.run("reading a scheduled end") { connection in
            try await connection.query(
                "SELECT \(unescaped: Self.endColumns) FROM scheduled_ends WHERE id = \(id)",
                logger: Self.queryLogger
            ).collect(Self.scheduledEnd).first
        }
    }

    public func scheduledEnds(state: ScheduledEnd.State) throws(LiveActivityRegistryError) -> [ScheduledEnd] {
        try self.run("reading scheduled ends") { connection in
            try await connection.query(
                "SELECT \(unescaped: Self.endColumns) FROM scheduled_ends WHERE state = \(state.rawValue) ORDER BY fire_at, id",
                logger: Self.queryLogger
            ).collect(Self.scheduledEnd)
        }
    }

    public func scheduledEndCounts() throws(LiveActivityRegistryError) -> [ScheduledEndCount] {
        try self.run("counting scheduled ends") { connection in
            try await connection.query(
                "SELECT app, state, count(*) FROM scheduled_ends GROUP BY state, app ORDER BY app, state",
                logger: Self.queryLogger
            ).collect { row in
                ScheduledEndCount(app: try row.at(0), state: try Self.state(try row.at(1)), count: Int(try row.at(2, as: Int64.self)))
            }
        }
    }

    /// How many ends were taken over after a lease ran out (``ScheduledEnd/possiblySent``), and how many each
    /// claimer settled or holds: for operators and the fleet test.
    public func claimCounts() throws(LiveActivityRegistryError) -> [ClaimCount] {
        try self.run("counting claims") { connection in
            try await connection.query(
                "SELECT coalesce(claimed_by, ''), state, possibly_sent, count(*) FROM scheduled_ends WHERE claimed_by IS NOT NULL GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
                logger: Self.queryLogger
            ).collect { row in
                ClaimCount(
                    claimer: try row.at(0), state: try Self.state(try row.at(1)), possiblySent: try row.at(2),
                    count: Int(try row.at(3, as: Int64.self)))
            }
        }
    }

    static func state(_ text: String) throws -> ScheduledEnd.State {
        guard let state = ScheduledEnd.State(rawValue: text) else {
            throw LiveActivityRegistryError.postgres(
                operation: "reading a scheduled end", sqlState: nil, message: "unknown state \(quoted(text)) stored")
        }
        return state
    }

    static func scheduledEnd(_ row: PostgresRandomAccessRow) throws -> ScheduledEnd {
        ScheduledEnd(
            id: try row.at(0), activityID: try row.at(1), app: try row.at(2), fireAt: try row.at(3),
            contentState: try row.at(4), dismissalDate: try row.at(5), state: try Self.state(try row.at(6)),
            createdAt: try row.at(7), claimedAt: try row.at(8), failureReason: try row.at(9),
            possiblySent: try row.at(10))
    }

    // MARK: Ended activities

    public func markEnded(activityIDs: [String], at: Int64) throws(LiveActivityRegistryError) -> Int {
        for activityID in activityIDs {
            try RegistryInput.checkIdentifier(activityID, field: "activityID")
        }
        try RegistryInput.checkTime(at, field: "end time")
        if activityIDs.isEmpty { return 0 }
        let ids = Array(Set(activityIDs))
        return try self.run("recording ended activities") { connection in
            try await connection.query(
                "INSERT INTO ended_activities (activity_id, ended_at) SELECT id, \(at) FROM unnest(\(ids)::text[]) AS id ON CONFLICT DO NOTHING RETURNING 1",
                logger: Self.queryLogger
            ).count()
        }
    }

    public func endedActivities(among activityIDs: [String]) throws(LiveActivityRegistryError) -> [String: Int64] {
        for activityID in activityIDs {
            try RegistryInput.checkIdentifier(activityID, field: "activityID")
        }
        if activityIDs.isEmpty { return [:] }
        let ids = Array(Set(activityIDs))
        let rows = try self.run("reading ended activities") { connection in
            try await connection.query(
                "SELECT activity_id, ended_at FROM ended_activities WHERE activity_id = ANY(\(ids)::text[])",
                logger: Self.queryLogger
            ).collect { row in (try row.at(0, as: String.self), try row.at(1, as: Int64.self)) }
        }
        return Dictionary(rows, uniquingKeysWith: { first, _ in first })
    }

    public func pruneEndedActivities(endedAtOrBefore: Int64, limit: Int) throws(LiveActivityRegistryError)
        -> PrunedActivities
    {
        guard limit > 0 else { return PrunedActivities(activities: 0, tokens: 0) }
        let limit = Int64(limit)
        return try self.transaction("pruning ended activities") { connection in
            let logger = Self.queryLogger
            let old = try await connection.query(
                "DELETE FROM ended_activities WHERE activity_id IN (SELECT activity_id FROM ended_activities WHERE ended_at <= \(endedAtOrBefore) ORDER BY ended_at, activity_id LIMIT \(limit) FOR UPDATE SKIP LOCKED) RETURNING activity_id",
                logger: logger
            ).collect { row in try row.at(0, as: String.self) }
            if old.isEmpty { return PrunedActivities(activities: 0, tokens: 0) }
            let tokens = try await connection.query(
                "DELETE FROM activity_tokens WHERE activity_id = ANY(\(old)::text[]) RETURNING 1", logger: logger
            ).count()
            return PrunedActivities(activities: old.count, tokens: tokens)
        }
    }

    // MARK: Broadcast channels

    public func saveChannel(_ channel: BroadcastChannelRecord) throws(LiveActivityRegistryError) {
        try channel.check()
        let policy = Int64(channel.storagePolicy)
        try self.run("storing a channel") { connection in
            try await connection.query(
                "INSERT INTO broadcast_channels (id, app, environment, storage_policy, created_at) VALUES (\(channel.id), \(channel.app), \(channel.environment), \(policy), \(channel.createdAt)) ON CONFLICT (id) DO UPDATE SET app = excluded.app, environment = excluded.environment, storage_policy = excluded.storage_policy, created_at = excluded.created_at",
                logger: Self.queryLogger)
            return ()
        }
    }

    public func deleteChannel(id: String) throws(LiveActivityRegistryError) -> Bool {
        try RegistryInput.checkIdentifier(id, field: "channelId")
        return try self.transaction("deleting a channel") { connection in
            let logger = Self.queryLogger
            try await connection.query("DELETE FROM channel_bindings WHERE channel_id = \(id)", logger: logger)
            return try await connection.query(
                "DELETE FROM broadcast_channels WHERE id = \(id) RETURNING 1", logger: logger
            ).count() > 0
        }
    }

    public func channel(id: String) throws(LiveActivityRegistryError) -> BroadcastChannelRecord? {
        try RegistryInput.checkIdentifier(id, field: "channelId")
        return try self.run("reading a channel") { connection in
            try await connection.query(
                "SELECT id, app, environment, storage_policy, created_at FROM broadcast_channels WHERE id = \(id)",
                logger: Self.queryLogger
            ).collect(Self.channelRecord).first
        }
    }

    public func channels(app: String, environment: String) throws(LiveActivityRegistryError) -> [BroadcastChannelRecord] {
        try RegistryInput.checkIdentifier(app, field: "app")
        return try self.run("reading channels") { connection in
            try await connection.query(
                "SELECT id, app, environment, storage_policy, created_at FROM broadcast_channels WHERE app = \(app) AND environment = \(environment) ORDER BY id",
                logger: Self.queryLogger
            ).collect(Self.channelRecord)
        }
    }

    public func bind(_ subject: ChannelSubject, to channelID: String?, at now: Int64) throws(LiveActivityRegistryError) {
        try RegistryInput.checkIdentifier(subject.identifier, field: subject.kind == "activity" ? "activityId" : "streamId")
        if let channelID { try RegistryInput.checkIdentifier(channelID, field: "channelId") }
        let kind = subject.kind
        let identifier = subject.identifier
        try self.run("binding a channel") { connection in
            let logger = Self.queryLogger
            if let channelID {
                try await connection.query(
                    "INSERT INTO channel_bindings (kind, subject_id, channel_id, bound_at) VALUES (\(kind), \(identifier), \(channelID), \(now)) ON CONFLICT (kind, subject_id) DO UPDATE SET channel_id = excluded.channel_id, bound_at = excluded.bound_at",
                    logger: logger)
            } else {
                try await connection.query(
                    "DELETE FROM channel_bindings WHERE kind = \(kind) AND subject_id = \(identifier)", logger: logger)
            }
            return ()
        }
    }

    public func boundChannel(of subject: ChannelSubject) throws(LiveActivityRegistryError) -> String? {
        let kind = subject.kind
        let identifier = subject.identifier
        return try self.run("reading a channel binding") { connection in
            try await connection.query(
                "SELECT channel_id FROM channel_bindings WHERE kind = \(kind) AND subject_id = \(identifier)",
                logger: Self.queryLogger
            ).collect { row in try row.at(0, as: String.self) }.first
        }
    }

    static func channelRecord(_ row: PostgresRandomAccessRow) throws -> BroadcastChannelRecord {
        BroadcastChannelRecord(
            id: try row.at(0), app: try row.at(1), environment: try row.at(2),
            storagePolicy: Int(try row.at(3, as: Int32.self)), createdAt: try row.at(4))
    }
}

/// One row of ``PostgresLiveActivityRegistry/claimCounts()``.
public struct ClaimCount: Hashable, Sendable {
    /// The claimer's ID (``PostgresLiveActivityRegistry/claimerID``) of the last claim.
    public var claimer: String
    public var state: ScheduledEnd.State
    public var possiblySent: Bool
    public var count: Int

    public init(claimer: String, state: ScheduledEnd.State, possiblySent: Bool, count: Int) {
        self.claimer = claimer
        self.state = state
        self.possiblySent = possiblySent
        self.count = count
    }
}
