extension SQLiteLiveActivityRegistry {
    private static let startColumns =
        "user_id, device_id, app, token, environment, created_at, updated_at, dead_at, dead_reason"

    public func registerPushToStart(_ registration: PushToStartRegistration, at now: Int64) throws(LiveActivityRegistryError)
        -> RegistrationOutcome
    {
        var registration = registration
        try RegistryInput.checkIdentifier(registration.userID, field: "userID")
        try RegistryInput.checkIdentifier(registration.deviceID, field: "deviceID")
        try RegistryInput.checkIdentifier(registration.app, field: "app")
        registration.token = try RegistryInput.normalizedToken(registration.token)
        try RegistryInput.checkTime(now, field: "registration time")

        return try self.withConnection { (connection) throws(LiveActivityRegistryError) in
            try connection.transaction("registering a push-to-start token") { () throws(LiveActivityRegistryError) in
                try Self.register(registration, at: now, in: connection)
            }
        }
    }

    private static func register(
        _ new: PushToStartRegistration,
        at now: Int64,
        in connection: SQLiteConnection
    ) throws(LiveActivityRegistryError) -> RegistrationOutcome {
        let operation = "registering a push-to-start token"
        if let holder = try connection.statement("SELECT \(startColumns) FROM push_to_start_tokens WHERE token = ?1")
            .firstRow(operation, bind: [.text(new.token)], map: startRecord)?.registration
        {
            if holder.deviceID != new.deviceID || holder.app != new.app {
                throw .tokenConflict(
                    token: RegistryInput.redacted(new.token),
                    registeredTo: "device \(quoted(holder.deviceID)) for app \(quoted(holder.app)) "
                        + "(user \(quoted(holder.userID)))")
            }
            if holder.userID != new.userID {
                // Someone else signed in on the device: the token moves to the new user.
                try connection.statement(
                    "DELETE FROM push_to_start_tokens WHERE user_id = ?1 AND device_id = ?2 AND app = ?3"
                ).run(operation, bind: [.text(holder.userID), .text(holder.deviceID), .text(holder.app)])
            }
        }
        let existing = try connection.statement(
            "SELECT \(startColumns) FROM push_to_start_tokens WHERE user_id = ?1 AND device_id = ?2 AND app = ?3"
        ).firstRow(operation, bind: [.text(new.userID), .text(new.deviceID), .text(new.app)], map: startRecord)

        guard let existing else {
            try connection.statement(
                "INSERT INTO push_to_start_tokens (\(startColumns)) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, NULL, NULL)"
            ).run(operation, bind: [
                .text(new.userID), .text(new.deviceID), .text(new.app), .text(new.token),
                .text(new.environment.rawValue), .integer(now),
            ])
            return .created
        }

        let outcome = RegistrationDecision.decide(
            existingToken: existing.token, newToken: new.token, sameDetails: existing.registration == new,
            deadAt: existing.deadAt, now: now)
        guard let updatedAt = RegistrationDecision.updatedAt(
            after: outcome, existingUpdatedAt: existing.updatedAt, now: now)
        else { return outcome }
        try connection.statement(
            "UPDATE push_to_start_tokens SET token = ?4, environment = ?5, updated_at = ?6, dead_at = NULL, "
                + "dead_reason = NULL WHERE user_id = ?1 AND device_id = ?2 AND app = ?3"
        ).run(operation, bind: [
            .text(new.userID), .text(new.deviceID), .text(new.app), .text(new.token),
            .text(new.environment.rawValue), .integer(updatedAt),
        ])
        return outcome
    }

    public func unregisterPushToStart(userID: String, deviceID: String, app: String) throws(LiveActivityRegistryError)
        -> Bool
    {
        try RegistryInput.checkIdentifier(userID, field: "userID")
        try RegistryInput.checkIdentifier(deviceID, field: "deviceID")
        try RegistryInput.checkIdentifier(app, field: "app")
        return try self.withConnection { (connection) throws(LiveActivityRegistryError) in
            try connection.statement(
                "DELETE FROM push_to_start_tokens WHERE user_id = ?1 AND device_id = ?2 AND app = ?3"
            ).run("unregistering a push-to-start token", bind: [.text(userID), .text(deviceID), .text(app)])
            return connection.changes > 0
        }
    }

    public func pushToStartTokens(forUsers userIDs: [String], app: String, includingDead: Bool)
        throws(LiveActivityRegistryError) -> [PushToStartRecord]
    {
        try RegistryInput.checkIdentifier(app, field: "app")
        let users = try RegistryInput.distinctIdentifiers(userIDs, field: "userID")
        return try self.withConnection { (connection) throws(LiveActivityRegistryError) in
            let statement = try connection.statement(
                "SELECT \(Self.startColumns) FROM push_to_start_tokens "
                    + "WHERE user_id = ?1 AND app = ?2" + (includingDead ? "" : " AND dead_at IS NULL") + " ORDER BY device_id")
            var records: [PushToStartRecord] = []
            for userID in users {
                try statement.run("reading push-to-start tokens", bind: [.text(userID), .text(app)]) {
                    (row) throws(LiveActivityRegistryError) in
                    records.append(try Self.startRecord(row))
                }
            }
            return records
        }
    }

    public func pushToStartToken(userID: String, deviceID: String, app: String) throws(LiveActivityRegistryError)
        -> PushToStartRecord?
    {
        try RegistryInput.checkIdentifier(userID, field: "userID")
        try RegistryInput.checkIdentifier(deviceID, field: "deviceID")
        try RegistryInput.checkIdentifier(app, field: "app")
        return try self.withConnection { (connection) throws(LiveActivityRegistryError) in
            try connection.statement(
                "SELECT \(Self.startColumns) FROM push_to_start_tokens WHERE user_id = ?1 AND device_id = ?2 AND app = ?3"
            ).firstRow(
                "reading a push-to-start token", bind: [.text(userID), .text(deviceID), .text(app)],
                map: Self.startRecord)
        }
    }

    static func startRecord(_ row: SQLiteRow) throws(LiveActivityRegistryError) -> PushToStartRecord {
        PushToStartRecord(
            registration: PushToStartRegistration(
                userID: row.text(0), deviceID: row.text(1), token: row.text(3), app: row.text(2),
                environment: try environment(row.text(4))),
            createdAt: row.integer(5), updatedAt: row.integer(6), deadAt: row.optionalInteger(7),
            deadReason: row.optionalText(8))
    }
}
