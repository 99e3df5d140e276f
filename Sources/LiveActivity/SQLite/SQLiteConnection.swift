private import CSQLite

/// One `sqlite3*` connection: opens it, prepares (and caches) statements, runs transactions,
/// and maps every SQLite result code to ``LiveActivityRegistryError/database(operation:code:message:)``
/// with SQLite's own message.
///
/// Not thread-safe: the owner serialises all use (``SQLiteLiveActivityRegistry`` keeps it inside
/// a `Mutex`). Opened with `SQLITE_OPEN_NOMUTEX` because of that.
final class SQLiteConnection {
    private var handle: OpaquePointer?
    private var statements: [String: SQLiteStatement] = [:]

    /// Opens (creating if needed) the database at `path`.
    init(path: String, busyTimeoutMilliseconds: Int32) throws(LiveActivityRegistryError) {
        var handle: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &handle, flags, nil)
        guard rc == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_close_v2(handle)
            throw .database(operation: "opening \"\(path)\"", code: rc, message: message)
        }
        self.handle = handle
        sqlite3_extended_result_codes(handle, 1)
        sqlite3_busy_timeout(handle, busyTimeoutMilliseconds)
    }

    deinit {
        self.close()
    }

    /// Finalises the cached statements and closes the connection; later use throws
    /// ``LiveActivityRegistryError/closed``.
    func close() {
        self.statements.removeAll()
        if let handle = self.handle {
            sqlite3_close_v2(handle)
            self.handle = nil
        }
    }

    var isOpen: Bool { self.handle != nil }

    /// Runs one or more statements that return no rows of interest.
    func execute(_ sql: String, operation: String) throws(LiveActivityRegistryError) {
        let db = try self.db()
        var errorMessage: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(db, sql, nil, nil, &errorMessage)
        if rc != SQLITE_OK {
            let message = errorMessage.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(db))
            sqlite3_free(errorMessage)
            throw .database(operation: operation, code: rc, message: message)
        }
    }

    /// The prepared statement for `sql`, prepared on first use and reused after.
    func statement(_ sql: String) throws(LiveActivityRegistryError) -> SQLiteStatement {
        if let cached = self.statements[sql] {
            return cached
        }
        let db = try self.db()
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard rc == SQLITE_OK, let statement else {
            throw .database(operation: "preparing \(quoted(sql))", code: rc, message: String(cString: sqlite3_errmsg(db)))
        }
        let prepared = SQLiteStatement(statement)
        self.statements[sql] = prepared
        return prepared
    }

    /// Runs `body` in a `BEGIN IMMEDIATE` transaction (the write lock is taken at once, so
    /// read-then-write sequences of two processes cannot interleave), committing if it returns and
    /// rolling back if it throws.
    func transaction<T>(
        _ operation: String,
        _ body: () throws(LiveActivityRegistryError) -> T
    ) throws(LiveActivityRegistryError) -> T {
        try self.execute("BEGIN IMMEDIATE", operation: "beginning a transaction for \(operation)")
        let result: T
        do {
            result = try body()
        } catch {
            try? self.execute("ROLLBACK", operation: "rolling back \(operation)")
            throw error
        }
        do {
            try self.execute("COMMIT", operation: "committing \(operation)")
        } catch {
            try? self.execute("ROLLBACK", operation: "rolling back \(operation)")
            throw error
        }
        return result
    }

    /// Rows changed by the last `INSERT`, `UPDATE` or `DELETE`.
    var changes: Int {
        self.handle.map { Int(sqlite3_changes($0)) } ?? 0
    }

    private func db() throws(LiveActivityRegistryError) -> OpaquePointer {
        guard let handle = self.handle else { throw .closed }
        return handle
    }
}
