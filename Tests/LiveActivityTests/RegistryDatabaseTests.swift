import Foundation
@testable import LiveActivity
import XCTest

/// The database file itself: settings, schema version, errors from SQLite.
final class RegistryDatabaseTests: SQLiteTestCase {
    private func pragma(_ name: String) throws -> String? {
        let connection = try SQLiteConnection(path: self.path, busyTimeoutMilliseconds: 1000)
        defer { connection.close() }
        return try connection.statement("PRAGMA \(name)").firstRow("reading \(name)") { $0.text(0) }
    }

    func testCreatesAVersionedSchemaInWALMode() throws {
        let registry = try self.openRegistry()
        XCTAssertEqual(try registry.register(.sample(), at: 1), .created)
        XCTAssertEqual(try self.pragma("user_version"), "\(SQLiteLiveActivityRegistry.schemaVersion)")
        XCTAssertEqual(try self.pragma("journal_mode"), "wal")
        XCTAssertTrue(FileManager.default.fileExists(atPath: self.path + "-wal"))
        XCTAssertEqual(SQLiteLiveActivityRegistry.schemaVersion, 4)
        registry.close()
        registry.close()  // harmless
    }

    func testReopeningKeepsTheSchema() throws {
        _ = try self.openRegistry()
        _ = try self.openRegistry()
        XCTAssertEqual(try self.pragma("user_version"), "\(SQLiteLiveActivityRegistry.schemaVersion)")
    }

    /// A file written by a build of schema version 1 (tokens, and scheduled ends of every old state, one stored
    /// without a content state as older builds allowed) opens as the current version with everything kept; its ends can
    /// then be failed with a reason, and the one without content makes no end push.
    func testAVersion1FileIsMigratedKeepingItsRows() throws {
        do {
            let connection = try SQLiteConnection(path: self.path, busyTimeoutMilliseconds: 1000)
            try connection.execute(SQLiteLiveActivityRegistry.schemaV1, operation: "test: version 1 schema")
            try connection.execute(
                """
                PRAGMA user_version = 1;
                INSERT INTO activity_tokens VALUES
                    ('activity-1', 'device-1', 'aabb', NULL, 'com.example.app', 'production', 5, 5, NULL, NULL);
                INSERT INTO scheduled_ends VALUES
                    ('old', 'activity-1', 'com.example.app', 100, NULL, NULL, 'pending', 1, NULL),
                    ('full', 'activity-1', 'com.example.app', 200, '{"final":true}', 260, 'pending', 2, NULL),
                    ('sent', 'activity-1', 'com.example.app', 50, '{}', NULL, 'done', 3, 50),
                    ('gone', 'activity-1', 'com.example.app', 60, '{}', NULL, 'cancelled', 4, NULL);
                """, operation: "test: version 1 rows")
            connection.close()
        }
        let registry = try self.openRegistry()
        XCTAssertEqual(try self.pragma("user_version"), "\(SQLiteLiveActivityRegistry.schemaVersion)")
        XCTAssertEqual(try registry.tokens(forActivity: "activity-1").map(\.token), ["aabb"])
        let old = try XCTUnwrap(try registry.scheduledEnd(id: "old"))
        XCTAssertEqual(old.state, .pending)
        XCTAssertNil(old.contentState)
        XCTAssertNil(old.failureReason)
        assertThrows(LiveActivityPayloadError.missingContentState(.end)) { () throws(LiveActivityPayloadError) in
            try old.payload.encode(now: 100)
        }
        XCTAssertEqual(try registry.scheduledEnd(id: "full")?.contentState, #"{"final":true}"#)
        XCTAssertEqual(try registry.scheduledEnd(id: "full")?.dismissalDate, 260)
        XCTAssertEqual(try registry.scheduledEnds(state: .done).map(\.id), ["sent"])
        XCTAssertEqual(try registry.scheduledEnd(id: "sent")?.claimedAt, 50)
        XCTAssertEqual(try registry.scheduledEnds(state: .cancelled).map(\.id), ["gone"])

        // The new state is accepted by the migrated table.
        XCTAssertEqual(try registry.claimDue(now: 200, limit: 16).map(\.id), ["old", "full"])
        XCTAssertTrue(try registry.markFailed(scheduledEndID: "old", reason: "no content"))
        XCTAssertEqual(try registry.scheduledEnds(state: .failed).map(\.failureReason), ["no content"])
        registry.close()

        // Reopening migrates nothing more.
        let reopened = try self.openRegistry()
        XCTAssertEqual(try reopened.scheduledEnd(id: "old")?.state, .failed)
        XCTAssertEqual(try reopened.scheduledEnds(state: .firing).map(\.id), ["full"])
        XCTAssertEqual(try self.pragma("user_version"), "\(SQLiteLiveActivityRegistry.schemaVersion)")
    }

    func testANewerSchemaIsRefused() throws {
        _ = try self.openRegistry()
        do {
            let connection = try SQLiteConnection(path: self.path, busyTimeoutMilliseconds: 1000)
            try connection.execute("PRAGMA user_version = 7", operation: "test")
            connection.close()
        }
        let error = assertThrows(LiveActivityRegistryError.unsupportedSchema(found: 7, supported: 4)) {
            () throws(LiveActivityRegistryError) in try SQLiteLiveActivityRegistry(path: self.path)
        }
        XCTAssertEqual(
            error?.description, "the registry database has schema version 7; this build understands up to 4")
    }

    func testErrorsCarrySQLiteMessages() throws {
        let missing = self.directory.path("no-such-dir/registry.sqlite")
        let error = assertThrows { () throws(LiveActivityRegistryError) in try SQLiteLiveActivityRegistry(path: missing) }
        guard case .database(let operation, let code, let message)? = error else {
            return XCTFail("\(String(describing: error))")
        }
        XCTAssertEqual(operation, "opening \"\(missing)\"")
        XCTAssertEqual(code, 14)  // SQLITE_CANTOPEN
        XCTAssertEqual(message, "unable to open database file")
        XCTAssertEqual(error?.description, "SQLite error 14 while opening \"\(missing)\": unable to open database file")

        let notADatabase = self.directory.path("garbage.sqlite")
        try Data(repeating: 0x41, count: 4096).write(to: URL(fileURLWithPath: notADatabase))
        let garbage = assertThrows { () throws(LiveActivityRegistryError) in
            try SQLiteLiveActivityRegistry(path: notADatabase)
        }
        XCTAssertTrue(garbage?.description.contains("file is not a database") ?? false, "\(String(describing: garbage))")

        let connection = try SQLiteConnection(path: self.path, busyTimeoutMilliseconds: 1000)
        let prepare = assertThrows { () throws(LiveActivityRegistryError) in
            try connection.statement("SELECT x FROM nowhere")
        }
        XCTAssertEqual(
            prepare?.description, "SQLite error 1 while preparing \"SELECT x FROM nowhere\": no such table: nowhere")
    }

    func testAFailedTransactionIsRolledBack() throws {
        let connection = try SQLiteConnection(path: self.path, busyTimeoutMilliseconds: 1000)
        defer { connection.close() }
        try connection.execute("CREATE TABLE t (x INTEGER)", operation: "test")
        let insert = try connection.statement("INSERT INTO t VALUES (?1)")
        assertThrows(LiveActivityRegistryError.scheduleConflict(id: "x")) { () throws(LiveActivityRegistryError) in
            try connection.transaction("test") { () throws(LiveActivityRegistryError) in
                try insert.run("inserting", bind: [.integer(1)])
                throw .scheduleConflict(id: "x")
            }
        }
        let count = try connection.statement("SELECT count(*) FROM t").firstRow("counting") { $0.integer(0) }
        XCTAssertEqual(count, 0)
        // The connection is usable after the rollback.
        try connection.transaction("test") { () throws(LiveActivityRegistryError) in
            try insert.run("inserting", bind: [.integer(2)])
        }
        XCTAssertEqual(try connection.statement("SELECT x FROM t").rows("reading") { $0.integer(0) }, [2])
    }

    /// A file of schema version 2 gains the channel tables and keeps its rows.
    func testAVersion2FileGainsChannels() throws {
        do {
            let registry = try self.openRegistry()
            XCTAssertEqual(try registry.register(.sample(), at: 1), .created)
            registry.close()
            let connection = try SQLiteConnection(path: self.path, busyTimeoutMilliseconds: 1000)
            try connection.execute(
                "DROP TABLE broadcast_channels; DROP TABLE channel_bindings; DROP TABLE ended_activities; "
                    + "DROP INDEX scheduled_ends_by_state_app; PRAGMA user_version = 2;",
                operation: "test: back to version 2")
            connection.close()
        }
        let registry = try self.openRegistry()
        XCTAssertEqual(try registry.allTokens(forActivity: ActivityTokenRegistration.sample().activityID).count, 1)
        try registry.saveChannel(BroadcastChannelRecord(id: "c==", app: "com.example.app", environment: "sandbox", storagePolicy: 1, createdAt: 10))
        XCTAssertEqual(try registry.channels(app: "com.example.app", environment: "sandbox").count, 1)
    }

    /// A file of schema version 2 (as the previous build left it) opens as version 3: rows kept, the new table
    /// usable.
    func testAVersion3FileIsMigrated() throws {
        do {
            let registry = try self.openRegistry()
            _ = try registry.register(.sample(activity: "a", token: 1), at: 1)
            registry.close()
            let connection = try SQLiteConnection(path: self.path, busyTimeoutMilliseconds: 1000)
            try connection.execute(
                """
                DROP TABLE ended_activities;
                DROP INDEX scheduled_ends_by_state_app;
                PRAGMA user_version = 3;
                """, operation: "test: back to version 3")
            connection.close()
        }
        let registry = try self.openRegistry()
        XCTAssertEqual(try registry.tokens(forActivity: "a").count, 1)
        XCTAssertEqual(try registry.markEnded(activityIDs: ["a"], at: 10), 1)
        XCTAssertEqual(try registry.pruneEndedActivities(endedAtOrBefore: 10, limit: 10), PrunedActivities(activities: 1, tokens: 1))
        let connection = try SQLiteConnection(path: self.path, busyTimeoutMilliseconds: 1000)
        defer { connection.close() }
        XCTAssertEqual(try connection.statement("PRAGMA user_version").firstRow("test") { $0.integer(0) }, 4)
    }
}
