private import CSQLite

/// One prepared `sqlite3_stmt*`, finalised in `deinit`. Parameters are bound by 1-based index;
/// columns are read by 0-based index.
///
/// Use: ``run(_:bind:row:)`` binds, steps through every row and resets, so a cached statement is
/// always left ready (and holding no bound strings) for its next use.
final class SQLiteStatement {
    private let handle: OpaquePointer

    init(_ handle: OpaquePointer) {
        self.handle = handle
    }

    deinit {
        sqlite3_finalize(self.handle)
    }

    /// A value to bind.
    enum Value {
        case text(String)
        case integer(Int64)
        case null

        static func text(_ value: String?) -> Value { value.map { .text($0) } ?? .null }
        static func integer(_ value: Int64?) -> Value { value.map { .integer($0) } ?? .null }
    }

    /// Binds `values` to parameters 1..., steps through all rows calling `row` for each, then
    /// resets the statement.
    func run(
        _ operation: String,
        bind values: [Value] = [],
        row: (SQLiteRow) throws(LiveActivityRegistryError) -> Void = { _ in }
    ) throws(LiveActivityRegistryError) {
        defer {
            sqlite3_reset(self.handle)
            sqlite3_clear_bindings(self.handle)
        }
        for (offset, value) in values.enumerated() {
            try self.bind(value, at: Int32(offset + 1), operation: operation)
        }
        while true {
            let rc = sqlite3_step(self.handle)
            if rc == SQLITE_ROW {
                try row(SQLiteRow(handle: self.handle))
            } else if rc == SQLITE_DONE {
                return
            } else {
                throw self.error(rc, operation: operation)
            }
        }
    }

    /// Runs the statement and returns the rows mapped by `map`.
    func rows<T>(
        _ operation: String,
        bind values: [Value] = [],
        map: (SQLiteRow) throws(LiveActivityRegistryError) -> T
    ) throws(LiveActivityRegistryError) -> [T] {
        var results: [T] = []
        try self.run(operation, bind: values) { (row) throws(LiveActivityRegistryError) in
            results.append(try map(row))
        }
        return results
    }

    /// Runs the statement and returns its first row mapped by `map`, or `nil`.
    func firstRow<T>(
        _ operation: String,
        bind values: [Value] = [],
        map: (SQLiteRow) throws(LiveActivityRegistryError) -> T
    ) throws(LiveActivityRegistryError) -> T? {
        try self.rows(operation, bind: values, map: map).first
    }

    private func bind(_ value: Value, at index: Int32, operation: String) throws(LiveActivityRegistryError) {
        let rc: Int32
        switch value {
        case .null:
            rc = sqlite3_bind_null(self.handle, index)
        case .integer(let integer):
            rc = sqlite3_bind_int64(self.handle, index, integer)
        case .text(let text):
            // The explicit length keeps every byte; SQLite copies them before returning.
            let count = Int32(text.utf8.count)
            rc = text.withCString { sqlite3_bind_text(self.handle, index, $0, count, csqlite_transient()) }
        }
        if rc != SQLITE_OK {
            throw self.error(rc, operation: operation)
        }
    }

    private func error(_ rc: Int32, operation: String) -> LiveActivityRegistryError {
        let db = sqlite3_db_handle(self.handle)
        let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
        return .database(operation: operation, code: rc, message: message)
    }
}

/// The current row of a statement being stepped; valid only inside the row callback.
struct SQLiteRow {
    fileprivate let handle: OpaquePointer

    /// Column `index` as text; `""` for NULL.
    func text(_ index: Int32) -> String {
        guard let bytes = sqlite3_column_text(self.handle, index) else { return "" }
        let count = Int(sqlite3_column_bytes(self.handle, index))
        return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    }

    /// Column `index` as text, or `nil` for NULL.
    func optionalText(_ index: Int32) -> String? {
        self.isNull(index) ? nil : self.text(index)
    }

    /// Column `index` as an integer; 0 for NULL.
    func integer(_ index: Int32) -> Int64 {
        sqlite3_column_int64(self.handle, index)
    }

    /// Column `index` as an integer, or `nil` for NULL.
    func optionalInteger(_ index: Int32) -> Int64? {
        self.isNull(index) ? nil : self.integer(index)
    }

    func isNull(_ index: Int32) -> Bool {
        sqlite3_column_type(self.handle, index) == SQLITE_NULL
    }
}
