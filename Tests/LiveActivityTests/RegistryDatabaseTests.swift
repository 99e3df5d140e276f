import Foundation
@testable import LiveActivity
import XCTest

/// The database file itself: settings, schema version, errors from SQLite.
final class RegistryDatabaseTests: RegistryTestCase {
    private func pragma(_ name: String) throws -> String? {
        let connection = try SQLiteConnection(path: self.path, busyTimeoutMilliseconds: 1000)
        defer { connection.close() }
        return try connection.statement("PRAGMA \(name)").firstRow("reading \(name)") { $0.text(0) }
    }

    func testCreatesAVersionedSchemaInWALMode() throws {
        let registry = try self.openRegistry()
        XCTAssertEqual(try registry.register(.sample(), at: 1), .created)
        XCTAssertEqual(try self.pragma("user_version"), "1")
        XCTAssertEqual(try self.pragma("journal_mode"), "wal")
        XCTAssertTrue(FileManager.default.fileExists(atPath: self.path + "-wal"))
        XCTAssertEqual(SQLiteLiveActivityRegistry.schemaVersion, 1)
        registry.close()
        registry.close()  // harmless
    }

    func testReopeningKeepsTheSchema() throws {
        _ = try self.openRegistry()
        _ = try self.openRegistry()
        XCTAssertEqual(try self.pragma("user_version"), "1")
    }

    func testANewerSchemaIsRefused() throws {
        _ = try self.openRegistry()
        do {
            let connection = try SQLiteConnection(path: self.path, busyTimeoutMilliseconds: 1000)
            try connection.execute("PRAGMA user_version = 7", operation: "test")
            connection.close()
        }
        let error = assertThrows(LiveActivityRegistryError.unsupportedSchema(found: 7, supported: 1)) {
            () throws(LiveActivityRegistryError) in try SQLiteLiveActivityRegistry(path: self.path)
        }
        XCTAssertEqual(
            error?.description, "the registry database has schema version 7; this build understands up to 1")
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
}
