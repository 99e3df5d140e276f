extension SQLiteLiveActivityRegistry {
    public func markEnded(activityIDs: [String], at: Int64) throws(LiveActivityRegistryError) -> Int {
        for activityID in activityIDs {
            try RegistryInput.checkIdentifier(activityID, field: "activityID")
        }
        try RegistryInput.checkTime(at, field: "end time")
        if activityIDs.isEmpty { return 0 }
        return try self.withConnection { (connection) throws(LiveActivityRegistryError) in
            try connection.transaction("recording ended activities") { () throws(LiveActivityRegistryError) in
                let statement = try connection.statement(
                    "INSERT INTO ended_activities (activity_id, ended_at) VALUES (?1, ?2) ON CONFLICT DO NOTHING")
                var recorded = 0
                for activityID in Set(activityIDs) {
                    try statement.run("recording an ended activity", bind: [.text(activityID), .integer(at)])
                    recorded += connection.changes
                }
                return recorded
            }
        }
    }

    public func endedActivities(among activityIDs: [String]) throws(LiveActivityRegistryError) -> [String: Int64] {
        for activityID in activityIDs {
            try RegistryInput.checkIdentifier(activityID, field: "activityID")
        }
        if activityIDs.isEmpty { return [:] }
        return try self.withConnection { (connection) throws(LiveActivityRegistryError) in
            let statement = try connection.statement("SELECT ended_at FROM ended_activities WHERE activity_id = ?1")
            var ended: [String: Int64] = [:]
            for activityID in Set(activityIDs) {
                try statement.run("reading ended activities", bind: [.text(activityID)]) {
                    (row) throws(LiveActivityRegistryError) in
                    ended[activityID] = row.integer(0)
                }
            }
            return ended
        }
    }

    public func pruneEndedActivities(endedAtOrBefore: Int64, limit: Int) throws(LiveActivityRegistryError)
        -> PrunedActivities
    {
        guard limit > 0 else { return PrunedActivities(activities: 0, tokens: 0) }
        return try self.withConnection { (connection) throws(LiveActivityRegistryError) in
            try connection.transaction("pruning ended activities") { () throws(LiveActivityRegistryError) in
                let operation = "pruning ended activities"
                let old = try connection.statement(
                    "SELECT activity_id FROM ended_activities WHERE ended_at <= ?1 ORDER BY ended_at, activity_id LIMIT ?2"
                ).rows(operation, bind: [.integer(endedAtOrBefore), .integer(Int64(limit))]) { $0.text(0) }
                let tokens = try connection.statement("DELETE FROM activity_tokens WHERE activity_id = ?1")
                let activity = try connection.statement("DELETE FROM ended_activities WHERE activity_id = ?1")
                var removedTokens = 0
                for activityID in old {
                    try tokens.run(operation, bind: [.text(activityID)])
                    removedTokens += connection.changes
                    try activity.run(operation, bind: [.text(activityID)])
                }
                return PrunedActivities(activities: old.count, tokens: removedTokens)
            }
        }
    }

    public func scheduledEndCounts() throws(LiveActivityRegistryError) -> [ScheduledEndCount] {
        try self.withConnection { (connection) throws(LiveActivityRegistryError) in
            try connection.statement(
                "SELECT app, state, count(*) FROM scheduled_ends GROUP BY state, app ORDER BY app, state"
            ).rows("counting scheduled ends") { (row) throws(LiveActivityRegistryError) in
                let text = row.text(1)
                guard let state = ScheduledEnd.State(rawValue: text) else {
                    throw .database(operation: "counting scheduled ends", code: 0, message: "unknown state \(quoted(text)) stored")
                }
                return ScheduledEndCount(app: row.text(0), state: state, count: Int(row.integer(2)))
            }
        }
    }
}
