extension SQLiteLiveActivityRegistry {
    private static let endColumns =
        "id, activity_id, app, fire_at, content_state, dismissal_date, state, created_at, claimed_at, failure_reason"

    public func schedule(_ request: ScheduledEndRequest, at now: Int64) throws(LiveActivityRegistryError)
        -> ScheduledEnd
    {
        let end = try request.checked(at: now)

        return try self.withConnection { (connection) throws(LiveActivityRegistryError) in
            try connection.transaction("scheduling an end") { () throws(LiveActivityRegistryError) in
                if let existing = try connection.statement("SELECT \(Self.endColumns) FROM scheduled_ends WHERE id = ?1")
                    .firstRow("scheduling an end", bind: [.text(end.id)], map: Self.scheduledEnd)
                {
                    guard existing.matches(request) else { throw .scheduleConflict(id: end.id) }
                    return existing
                }
                try connection.statement(
                    "INSERT INTO scheduled_ends (\(Self.endColumns)) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, NULL, NULL)"
                ).run("scheduling an end", bind: [
                    .text(end.id), .text(end.activityID), .text(end.app), .integer(end.fireAt), .text(end.contentState),
                    .integer(end.dismissalDate), .integer(now),
                ])
                return end
            }
        }
    }

    public func cancel(scheduledEndID: String) throws(LiveActivityRegistryError) -> Bool {
        try self.transition(scheduledEndID, to: .cancelled, from: .pending, operation: "cancelling a scheduled end")
    }

    public func markDone(scheduledEndID: String) throws(LiveActivityRegistryError) -> Bool {
        try self.transition(scheduledEndID, to: .done, from: .firing, operation: "marking a scheduled end done")
    }

    public func release(scheduledEndID: String) throws(LiveActivityRegistryError) -> Bool {
        try self.transition(scheduledEndID, to: .pending, from: .firing, operation: "releasing a scheduled end")
    }

    public func markFailed(scheduledEndID: String, reason: String) throws(LiveActivityRegistryError) -> Bool {
        try RegistryInput.checkIdentifier(scheduledEndID, field: "id")
        let stored = ScheduledEnd.storedReason(reason)
        return try self.withConnection { (connection) throws(LiveActivityRegistryError) in
            try connection.statement(
                "UPDATE scheduled_ends SET state = 'failed', failure_reason = ?2 WHERE id = ?1 AND state = 'firing'"
            ).run("marking a scheduled end failed", bind: [.text(scheduledEndID), .text(stored)])
            return connection.changes > 0
        }
    }

    private func transition(
        _ id: String,
        to state: ScheduledEnd.State,
        from expected: ScheduledEnd.State,
        operation: String
    ) throws(LiveActivityRegistryError) -> Bool {
        try RegistryInput.checkIdentifier(id, field: "id")
        return try self.withConnection { (connection) throws(LiveActivityRegistryError) in
            // Back to pending forgets the claim; other moves keep its time.
            try connection.statement(
                "UPDATE scheduled_ends SET state = ?2, claimed_at = CASE WHEN ?2 = 'pending' THEN NULL ELSE claimed_at END "
                    + "WHERE id = ?1 AND state = ?3"
            ).run(operation, bind: [.text(id), .text(state.rawValue), .text(expected.rawValue)])
            return connection.changes > 0
        }
    }

    public func due(now: Int64) throws(LiveActivityRegistryError) -> [ScheduledEnd] {
        try self.withConnection { (connection) throws(LiveActivityRegistryError) in
            try connection.statement(
                "SELECT \(Self.endColumns) FROM scheduled_ends WHERE state = 'pending' AND fire_at <= ?1 "
                    + "ORDER BY fire_at, id"
            ).rows("reading due scheduled ends", bind: [.integer(now)], map: Self.scheduledEnd)
        }
    }

    public func claimDue(now: Int64, limit: Int) throws(LiveActivityRegistryError) -> [ScheduledEnd] {
        guard limit > 0 else { return [] }
        return try self.withConnection { (connection) throws(LiveActivityRegistryError) in
            try connection.transaction("claiming due scheduled ends") { () throws(LiveActivityRegistryError) in
                var ends = try connection.statement(
                    "SELECT \(Self.endColumns) FROM scheduled_ends WHERE state = 'pending' AND fire_at <= ?1 "
                        + "ORDER BY fire_at, id LIMIT ?2"
                ).rows("claiming due scheduled ends", bind: [.integer(now), .integer(Int64(limit))], map: Self.scheduledEnd)
                let claim = try connection.statement(
                    "UPDATE scheduled_ends SET state = 'firing', claimed_at = ?2 WHERE id = ?1 AND state = 'pending'")
                for index in ends.indices {
                    try claim.run("claiming a scheduled end", bind: [.text(ends[index].id), .integer(now)])
                    ends[index].state = .firing
                    ends[index].claimedAt = now
                }
                return ends
            }
        }
    }

    public func scheduledEnd(id: String) throws(LiveActivityRegistryError) -> ScheduledEnd? {
        try RegistryInput.checkIdentifier(id, field: "id")
        return try self.withConnection { (connection) throws(LiveActivityRegistryError) in
            try connection.statement("SELECT \(Self.endColumns) FROM scheduled_ends WHERE id = ?1")
                .firstRow("reading a scheduled end", bind: [.text(id)], map: Self.scheduledEnd)
        }
    }

    public func scheduledEnds(state: ScheduledEnd.State) throws(LiveActivityRegistryError) -> [ScheduledEnd] {
        try self.withConnection { (connection) throws(LiveActivityRegistryError) in
            try connection.statement(
                "SELECT \(Self.endColumns) FROM scheduled_ends WHERE state = ?1 ORDER BY fire_at, id"
            ).rows("reading scheduled ends", bind: [.text(state.rawValue)], map: Self.scheduledEnd)
        }
    }

    static func scheduledEnd(_ row: SQLiteRow) throws(LiveActivityRegistryError) -> ScheduledEnd {
        let stateText = row.text(6)
        guard let state = ScheduledEnd.State(rawValue: stateText) else {
            throw .database(
                operation: "reading a scheduled end", code: 0, message: "unknown state \(quoted(stateText)) stored")
        }
        return ScheduledEnd(
            id: row.text(0), activityID: row.text(1), app: row.text(2), fireAt: row.integer(3),
            contentState: row.optionalText(4), dismissalDate: row.optionalInteger(5), state: state,
            createdAt: row.integer(7), claimedAt: row.optionalInteger(8), failureReason: row.optionalText(9))
    }
}
