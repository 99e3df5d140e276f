import APNsCore
import LiveActivity
import Logging
import PostgresNIO

extension PostgresLiveActivityRegistry {
    static let activityColumns =
        "activity_id, device_id, token, stream_id, app, environment, created_at, updated_at, dead_at, dead_reason"
    static let startColumns =
        "user_id, device_id, app, token, environment, created_at, updated_at, dead_at, dead_reason"

    // MARK: Update tokens

    public func register(_ registration: ActivityTokenRegistration, at now: Int64) throws(LiveActivityRegistryError)
        -> RegistrationOutcome
    {
        let registration = try registration.checked(at: now)
        let new = registration
        let logger = Self.queryLogger
        return try self.transaction("registering an update token") { connection in
            try await Self.lock(["activity\u{1}\(new.activityID)\u{1}\(new.deviceID)", "token\u{1}\(new.token)"], connection)
            if let holder = try await connection.query(
                "SELECT \(unescaped: Self.activityColumns) FROM activity_tokens WHERE token = \(new.token)", logger: logger
            ).collect(Self.activityRecord).first?.registration,
                holder.activityID != new.activityID || holder.deviceID != new.deviceID || holder.app != new.app
            {
                throw LiveActivityRegistryError.tokenConflict(
                    token: RegistryInput.redacted(new.token),
                    registeredTo: "activity \(quoted(holder.activityID)) on device \(quoted(holder.deviceID)) for app \(quoted(holder.app))")
            }
            let existing = try await connection.query(
                "SELECT \(unescaped: Self.activityColumns) FROM activity_tokens WHERE activity_id = \(new.activityID) AND device_id = \(new.deviceID)", logger: logger
            ).collect(Self.activityRecord).first
            guard let existing else {
                try await connection.query(
                    "INSERT INTO activity_tokens (\(unescaped: Self.activityColumns)) VALUES (\(new.activityID), \(new.deviceID), \(new.token), \(new.streamID), \(new.app), \(new.environment.rawValue), \(now), \(now), NULL, NULL)", logger: logger)
                return RegistrationOutcome.created
            }
            if existing.registration.app != new.app {
                throw LiveActivityRegistryError.appMismatch(
                    key: "activity \(quoted(new.activityID)) on device \(quoted(new.deviceID))",
                    registeredApp: existing.registration.app, requestedApp: new.app)
            }
            let outcome = RegistrationDecision.decide(
                existingToken: existing.token, newToken: new.token, sameDetails: existing.registration == new,
                deadAt: existing.deadAt, now: now)
            guard let updatedAt = RegistrationDecision.updatedAt(
                after: outcome, existingUpdatedAt: existing.updatedAt, now: now)
            else { return outcome }
            try await connection.query(
                "UPDATE activity_tokens SET token = \(new.token), stream_id = \(new.streamID), environment = \(new.environment.rawValue), updated_at = \(updatedAt), dead_at = NULL, dead_reason = NULL WHERE activity_id = \(new.activityID) AND device_id = \(new.deviceID)",
                logger: logger)
            return outcome
        }
    }

    /// Takes transaction-scoped advisory locks on `names`, in a fixed order (no deadlock between two takers).
    static func lock(_ names: [String], _ connection: PostgresConnection) async throws {
        try await connection.query(
            "SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT hashtextextended(n, 0) AS k FROM unnest(\(names)::text[]) AS n ORDER BY k) AS keys",
            logger: Self.queryLogger)
    }

    public func unregister(activityID: String, deviceID: String?) throws(LiveActivityRegistryError) -> Int {
        try RegistryInput.checkIdentifier(activityID, field: "activityID")
        if let deviceID {
            try RegistryInput.checkIdentifier(deviceID, field: "deviceID")
        }
        return try self.run("unregistering an activity") { connection in
            let logger = Self.queryLogger
            if let deviceID {
                return try await connection.query(
                    "DELETE FROM activity_tokens WHERE activity_id = \(activityID) AND device_id = \(deviceID) RETURNING 1",
                    logger: logger
                ).count()
            }
            return try await connection.query(
                "DELETE FROM activity_tokens WHERE activity_id = \(activityID) RETURNING 1", logger: logger
            ).count()
        }
    }

    public func unregister(token: String) throws(LiveActivityRegistryError) -> Int {
        let token = try RegistryInput.normalizedToken(token)
        return try self.transaction("unregistering a token") { connection in
            let logger = Self.queryLogger
            let updates = try await connection.query(
                "DELETE FROM activity_tokens WHERE token = \(token) RETURNING 1", logger: logger
            ).count()
            let starts = try await connection.query(
                "DELETE FROM push_to_start_tokens WHERE token = \(token) RETURNING 1", logger: logger
            ).count()
            return updates + starts
        }
    }

    public func tokens(_ listing: ActivityTokenListing, _ id: String, includingDead: Bool)
        throws(LiveActivityRegistryError) -> [ActivityTokenRecord]
    {
        try RegistryInput.checkIdentifier(id, field: listing.field)
        let alive = includingDead ? "" : " AND dead_at IS NULL"
        return try self.run(listing.action) { connection in
            try await connection.query(
                "SELECT \(unescaped: Self.activityColumns) FROM activity_tokens WHERE \(unescaped: listing.column) = \(id)\(unescaped: alive) ORDER BY \(unescaped: listing.order)", logger: Self.queryLogger
            ).collect(Self.activityRecord)
        }
    }

    public func activityToken(activityID: String, deviceID: String) throws(LiveActivityRegistryError)
        -> ActivityTokenRecord?
    {
        try RegistryInput.checkIdentifier(activityID, field: "activityID")
        try RegistryInput.checkIdentifier(deviceID, field: "deviceID")
        return try self.run("reading an update token") { connection in
            try await connection.query(
                "SELECT \(unescaped: Self.activityColumns) FROM activity_tokens WHERE activity_id = \(activityID) AND device_id = \(deviceID)", logger: Self.queryLogger
            ).collect(Self.activityRecord).first
        }
    }

    // MARK: Push-to-start tokens

    public func registerPushToStart(_ registration: PushToStartRegistration, at now: Int64) throws(LiveActivityRegistryError)
        -> RegistrationOutcome
    {
        var registration = registration
        try RegistryInput.checkIdentifier(registration.userID, field: "userID")
        try RegistryInput.checkIdentifier(registration.deviceID, field: "deviceID")
        try RegistryInput.checkIdentifier(registration.app, field: "app")
        registration.token = try RegistryInput.normalizedToken(registration.token)
        try RegistryInput.checkTime(now, field: "registration time")
        let new = registration
        return try self.transaction("registering a push-to-start token") { connection in
            let logger = Self.queryLogger
            try await Self.lock(
                ["start\u{1}\(new.userID)\u{1}\(new.deviceID)\u{1}\(new.app)", "token\u{1}\(new.token)"], connection)
            if let holder = try await connection.query(
                "SELECT \(unescaped: Self.startColumns) FROM push_to_start_tokens WHERE token = \(new.token)", logger: logger
            ).collect(Self.startRecord).first?.registration {
                if holder.deviceID != new.deviceID || holder.app != new.app {
                    throw LiveActivityRegistryError.tokenConflict(
                        token: RegistryInput.redacted(new.token),
                        registeredTo: "device \(quoted(holder.deviceID)) for app \(quoted(holder.app)) (user \(quoted(holder.userID)))")
                }
                if holder.userID != new.userID {
                    // Someone else signed in on the device: the token moves to the new user.
                    try await connection.query(
                        "DELETE FROM push_to_start_tokens WHERE user_id = \(holder.userID) AND device_id = \(holder.deviceID) AND app = \(holder.app)", logger: logger)
                }
            }
            let existing = try await connection.query(
                "SELECT \(unescaped: Self.startColumns) FROM push_to_start_tokens WHERE user_id = \(new.userID) AND device_id = \(new.deviceID) AND app = \(new.app)", logger: logger
            ).collect(Self.startRecord).first
            guard let existing else {
                try await connection.query(
                    "INSERT INTO push_to_start_tokens (\(unescaped: Self.startColumns)) VALUES (\(new.userID), \(new.deviceID), \(new.app), \(new.token), \(new.environment.rawValue), \(now), \(now), NULL, NULL)", logger: logger)
                return RegistrationOutcome.created
            }
            let outcome = RegistrationDecision.decide(
                existingToken: existing.token, newToken: new.token, sameDetails: existing.registration == new,
                deadAt: existing.deadAt, now: now)
            guard let updatedAt = RegistrationDecision.updatedAt(
                after: outcome, existingUpdatedAt: existing.updatedAt, now: now)
            else { return outcome }
            try await connection.query(
                "UPDATE push_to_start_tokens SET token = \(new.token), environment = \(new.environment.rawValue), updated_at = \(updatedAt), dead_at = NULL, dead_reason = NULL WHERE user_id = \(new.userID) AND device_id = \(new.deviceID) AND app = \(new.app)", logger: logger)
            return outcome
        }
    }

    public func unregisterPushToStart(userID: String, deviceID: String, app: String) throws(LiveActivityRegistryError)
        -> Bool
    {
        try RegistryInput.checkIdentifier(userID, field: "userID")
        try RegistryInput.checkIdentifier(deviceID, field: "deviceID")
        try RegistryInput.checkIdentifier(app, field: "app")
        return try self.run("unregistering a push-to-start token") { connection in
            try await connection.query(
                "DELETE FROM push_to_start_tokens WHERE user_id = \(userID) AND device_id = \(deviceID) AND app = \(app) RETURNING 1", logger: Self.queryLogger
            ).count() > 0
        }
    }

    public func pushToStartTokens(forUsers userIDs: [String], app: String, includingDead: Bool)
        throws(LiveActivityRegistryError) -> [PushToStartRecord]
    {
        try RegistryInput.checkIdentifier(app, field: "app")
        let users = try RegistryInput.distinctIdentifiers(userIDs, field: "userID")
        if users.isEmpty { return [] }
        let alive = includingDead ? "" : " AND t.dead_at IS NULL"
        let selected = users
        return try self.run("reading push-to-start tokens") { connection in
            try await connection.query(
                "SELECT t.user_id, t.device_id, t.app, t.token, t.environment, t.created_at, t.updated_at, t.dead_at, t.dead_reason FROM unnest(\(selected)::text[]) WITH ORDINALITY AS u(user_id, position) JOIN push_to_start_tokens AS t ON t.user_id = u.user_id COLLATE \"C\" WHERE t.app = \(app)\(unescaped: alive) ORDER BY u.position, t.device_id", logger: Self.queryLogger
            ).collect(Self.startRecord)
        }
    }

    public func pushToStartToken(userID: String, deviceID: String, app: String) throws(LiveActivityRegistryError)
        -> PushToStartRecord?
    {
        try RegistryInput.checkIdentifier(userID, field: "userID")
        try RegistryInput.checkIdentifier(deviceID, field: "deviceID")
        try RegistryInput.checkIdentifier(app, field: "app")
        return try self.run("reading a push-to-start token") { connection in
            try await connection.query(
                "SELECT \(unescaped: Self.startColumns) FROM push_to_start_tokens WHERE user_id = \(userID) AND device_id = \(deviceID) AND app = \(app)", logger: Self.queryLogger
            ).collect(Self.startRecord).first
        }
    }

    // MARK: Dead tokens

    public func markDead(token: String, at: Int64, reason: String) throws(LiveActivityRegistryError) -> Int {
        let token = try RegistryInput.normalizedToken(token)
        try RegistryInput.checkTime(at, field: "death time")
        try RegistryInput.checkIdentifier(reason, field: "reason")
        return try self.transaction("marking a token dead") { connection in
            var marked = 0
            for table in ["activity_tokens", "push_to_start_tokens"] {
                // SET expressions see the row as it was: keep the latest death and its reason.
                marked += try await connection.query(
                    "UPDATE \(unescaped: table) SET dead_at = greatest(coalesce(dead_at, \(at)), \(at)), dead_reason = CASE WHEN dead_at IS NULL OR dead_at <= \(at) THEN \(reason) ELSE dead_reason END WHERE token = \(token) AND updated_at <= \(at) RETURNING 1",
                    logger: Self.queryLogger
                ).count()
            }
            return marked
        }
    }

    public func deadTokens(among tokens: [String]) throws(LiveActivityRegistryError) -> Set<String> {
        var candidates = Set<String>()
        for token in tokens {
            if let normalized = try? RegistryInput.normalizedToken(token) { candidates.insert(normalized) }
        }
        if candidates.isEmpty { return [] }
        let list = Array(candidates)
        return try self.run("reading dead tokens") { connection in
            let dead = try await connection.query(
                "SELECT token FROM activity_tokens WHERE token = ANY(\(list)::text[]) AND dead_at IS NOT NULL UNION SELECT token FROM push_to_start_tokens WHERE token = ANY(\(list)::text[]) AND dead_at IS NOT NULL",
                logger: Self.queryLogger
            ).collect { row in try row.at(0, as: String.self) }
            return Set(dead)
        }
    }

    static func activityRecord(_ row: PostgresRandomAccessRow) throws -> ActivityTokenRecord {
        ActivityTokenRecord(
            registration: ActivityTokenRegistration(
                activityID: try row.at(0), deviceID: try row.at(1), token: try row.at(2), streamID: try row.at(3),
                app: try row.at(4), environment: try Self.environment(try row.at(5))),
            createdAt: try row.at(6), updatedAt: try row.at(7), deadAt: try row.at(8), deadReason: try row.at(9))
    }

    static func startRecord(_ row: PostgresRandomAccessRow) throws -> PushToStartRecord {
        PushToStartRecord(
            registration: PushToStartRegistration(
                userID: try row.at(0), deviceID: try row.at(1), token: try row.at(3), app: try row.at(2),
                environment: try Self.environment(try row.at(4))),
            createdAt: try row.at(5), updatedAt: try row.at(6), deadAt: try row.at(7), deadReason: try row.at(8))
    }

    static func environment(_ text: String) throws -> TokenEnvironment {
        guard let environment = TokenEnvironment(rawValue: text) else {
            throw LiveActivityRegistryError.postgres(
                operation: "reading a token", sqlState: nil, message: "unknown environment \(quoted(text)) stored")
        }
        return environment
    }
}
