extension SQLiteLiveActivityRegistry {
    private static let activityColumns =
        "activity_id, device_id, token, stream_id, app, environment, created_at, updated_at, dead_at, dead_reason"

    public func register(_ registration: ActivityTokenRegistration, at now: Int64) throws(LiveActivityRegistryError)
        -> RegistrationOutcome
    {
        let registration = try registration.checked(at: now)

        return try self.withConnection { (connection) throws(LiveActivityRegistryError) in
            try connection.transaction("registering an update token") { () throws(LiveActivityRegistryError) in
                try Self.register(registration, at: now, in: connection)
            }
        }
    }

    private static func register(
        _ new: ActivityTokenRegistration,
        at now: Int64,
        in connection: SQLiteConnection
    ) throws(LiveActivityRegistryError) -> RegistrationOutcome {
        let operation = "registering an update token"
        if let holder = try connection.statement("SELECT \(activityColumns) FROM activity_tokens WHERE token = ?1")
            .firstRow(operation, bind: [.text(new.token)], map: activityRecord)?.registration,
            holder.activityID != new.activityID || holder.deviceID != new.deviceID || holder.app != new.app
        {
            throw .tokenConflict(
                token: RegistryInput.redacted(new.token),
                registeredTo: "activity \(quoted(holder.activityID)) on device \(quoted(holder.deviceID)) "
                    + "for app \(quoted(holder.app))")
        }
        let existing = try connection.statement(
            "SELECT \(activityColumns) FROM activity_tokens WHERE activity_id = ?1 AND device_id = ?2"
        ).firstRow(operation, bind: [.text(new.activityID), .text(new.deviceID)], map: activityRecord)

        guard let existing else {
            try connection.statement(
                "INSERT INTO activity_tokens (\(activityColumns)) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, NULL, NULL)"
            ).run(operation, bind: [
                .text(new.activityID), .text(new.deviceID), .text(new.token), .text(new.streamID), .text(new.app),
                .text(new.environment.rawValue), .integer(now),
            ])
            return .created
        }
        if existing.registration.app != new.app {
            throw .appMismatch(
                key: "activity \(quoted(new.activityID)) on device \(quoted(new.deviceID))",
                registeredApp: existing.registration.app, requestedApp: new.app)
        }

        let outcome = RegistrationDecision.decide(
            existingToken: existing.token, newToken: new.token, sameDetails: existing.registration == new,
            deadAt: existing.deadAt, now: now)
        let update = "UPDATE activity_tokens SET token = ?3, stream_id = ?4, environment = ?5, updated_at = ?6, "
            + "dead_at = ?7, dead_reason = ?8 WHERE activity_id = ?1 AND device_id = ?2"
        switch outcome {
        case .stillDead:
            break
        case .unchanged:
            try connection.statement(update).run(operation, bind: [
                .text(new.activityID), .text(new.deviceID), .text(new.token), .text(new.streamID),
                .text(new.environment.rawValue), .integer(max(existing.updatedAt, now)), .null, .null,
            ])
        case .created, .updated, .revived, .replaced:
            try connection.statement(update).run(operation, bind: [
                .text(new.activityID), .text(new.deviceID), .text(new.token), .text(new.streamID),
                .text(new.environment.rawValue), .integer(now), .null, .null,
            ])
        }
        return outcome
    }

    public func unregister(activityID: String, deviceID: String?) throws(LiveActivityRegistryError) -> Int {
        try RegistryInput.checkIdentifier(activityID, field: "activityID")
        if let deviceID {
            try RegistryInput.checkIdentifier(deviceID, field: "deviceID")
        }
        return try self.withConnection { (connection) throws(LiveActivityRegistryError) in
            if let deviceID {
                try connection.statement("DELETE FROM activity_tokens WHERE activity_id = ?1 AND device_id = ?2")
                    .run("unregistering an activity on a device", bind: [.text(activityID), .text(deviceID)])
            } else {
                try connection.statement("DELETE FROM activity_tokens WHERE activity_id = ?1")
                    .run("unregistering an activity", bind: [.text(activityID)])
            }
            return connection.changes
        }
    }

    public func unregister(token: String) throws(LiveActivityRegistryError) -> Int {
        let token = try RegistryInput.normalizedToken(token)
        return try self.withConnection { (connection) throws(LiveActivityRegistryError) in
            try connection.transaction("unregistering a token") { () throws(LiveActivityRegistryError) in
                try connection.statement("DELETE FROM activity_tokens WHERE token = ?1")
                    .run("unregistering an update token", bind: [.text(token)])
                let removed = connection.changes
                try connection.statement("DELETE FROM push_to_start_tokens WHERE token = ?1")
                    .run("unregistering a push-to-start token", bind: [.text(token)])
                return removed + connection.changes
            }
        }
    }

    public func tokens(_ listing: ActivityTokenListing, _ id: String, includingDead: Bool)
        throws(LiveActivityRegistryError) -> [ActivityTokenRecord]
    {
        try RegistryInput.checkIdentifier(id, field: listing.field)
        return try self.withConnection { (connection) throws(LiveActivityRegistryError) in
            try connection.statement(
                "SELECT \(Self.activityColumns) FROM activity_tokens WHERE \(listing.column) = ?1"
                    + (includingDead ? "" : " AND dead_at IS NULL") + " ORDER BY \(listing.order)"
            ).rows(listing.action, bind: [.text(id)], map: Self.activityRecord)
        }
    }

    public func activityToken(activityID: String, deviceID: String) throws(LiveActivityRegistryError)
        -> ActivityTokenRecord?
    {
        try RegistryInput.checkIdentifier(activityID, field: "activityID")
        try RegistryInput.checkIdentifier(deviceID, field: "deviceID")
        return try self.withConnection { (connection) throws(LiveActivityRegistryError) in
            try connection.statement(
                "SELECT \(Self.activityColumns) FROM activity_tokens WHERE activity_id = ?1 AND device_id = ?2"
            ).firstRow("reading an update token", bind: [.text(activityID), .text(deviceID)], map: Self.activityRecord)
        }
    }

    public func markDead(token: String, at: Int64, reason: String) throws(LiveActivityRegistryError) -> Int {
        let token = try RegistryInput.normalizedToken(token)
        try RegistryInput.checkTime(at, field: "death time")
        try RegistryInput.checkIdentifier(reason, field: "reason")
        return try self.withConnection { (connection) throws(LiveActivityRegistryError) in
            try connection.transaction("marking a token dead") { () throws(LiveActivityRegistryError) in
                var marked = 0
                for table in ["activity_tokens", "push_to_start_tokens"] {
                    // SET expressions see the row as it was: keep the latest death and its reason.
                    try connection.statement(
                        "UPDATE \(table) SET dead_at = max(coalesce(dead_at, ?2), ?2), "
                            + "dead_reason = CASE WHEN dead_at IS NULL OR dead_at <= ?2 THEN ?3 ELSE dead_reason END "
                            + "WHERE token = ?1 AND updated_at <= ?2"
                    ).run("marking a token dead", bind: [.text(token), .integer(at), .text(reason)])
                    marked += connection.changes
                }
                return marked
            }
        }
    }

    public func deadTokens(among tokens: [String]) throws(LiveActivityRegistryError) -> Set<String> {
        var candidates = Set<String>()
        for token in tokens {
            if let normalized = try? RegistryInput.normalizedToken(token) { candidates.insert(normalized) }
        }
        if candidates.isEmpty { return [] }
        return try self.withConnection { (connection) throws(LiveActivityRegistryError) in
            let statement = try connection.statement(
                "SELECT 1 WHERE EXISTS (SELECT 1 FROM activity_tokens WHERE token = ?1 AND dead_at IS NOT NULL) "
                    + "OR EXISTS (SELECT 1 FROM push_to_start_tokens WHERE token = ?1 AND dead_at IS NOT NULL)")
            var dead = Set<String>()
            for token in candidates {
                try statement.run("reading dead tokens", bind: [.text(token)]) { (_) throws(LiveActivityRegistryError) in
                    dead.insert(token)
                }
            }
            return dead
        }
    }

    static func activityRecord(_ row: SQLiteRow) throws(LiveActivityRegistryError) -> ActivityTokenRecord {
        ActivityTokenRecord(
            registration: ActivityTokenRegistration(
                activityID: row.text(0), deviceID: row.text(1), token: row.text(2), streamID: row.optionalText(3),
                app: row.text(4), environment: try environment(row.text(5))),
            createdAt: row.integer(6), updatedAt: row.integer(7), deadAt: row.optionalInteger(8),
            deadReason: row.optionalText(9))
    }

    static func environment(_ text: String) throws(LiveActivityRegistryError) -> TokenEnvironment {
        guard let environment = TokenEnvironment(rawValue: text) else {
            throw .database(operation: "reading a token", code: 0, message: "unknown environment \(quoted(text)) stored")
        }
        return environment
    }
}

/// The outcome of registering over an existing registration of the same key, shared by both
/// token kinds (see ``LiveActivityRegistry`` for the rule).
package enum RegistrationDecision {
    package static func decide(
        existingToken: String,
        newToken: String,
        sameDetails: Bool,
        deadAt: Int64?,
        now: Int64
    ) -> RegistrationOutcome {
        if existingToken != newToken {
            return .replaced(oldToken: existingToken)
        }
        if let deadAt {
            return now > deadAt ? .revived : .stillDead(since: deadAt)
        }
        return sameDetails ? .unchanged : .updated
    }

    /// The row's `updated_at` after `outcome`, or nil when the row stays as it is (a dead token registered again
    /// too soon): an unchanged registration keeps a later time it already has.
    package static func updatedAt(after outcome: RegistrationOutcome, existingUpdatedAt: Int64, now: Int64) -> Int64? {
        switch outcome {
        case .stillDead: nil
        case .unchanged: max(existingUpdatedAt, now)
        case .created, .updated, .revived, .replaced: now
        }
    }
}
