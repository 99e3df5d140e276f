import NIOConcurrencyHelpers

/// The ``LiveActivityRegistry`` in one SQLite database file.
///
/// The database runs in WAL mode with `synchronous=NORMAL` (a committed transaction survives a
/// process crash; a power loss may lose the last few, never corrupt the file) and a busy timeout,
/// so several processes may share one file: every read-then-write happens in a `BEGIN IMMEDIATE`
/// transaction. The schema is created when absent and versioned with `PRAGMA user_version`
/// (``schemaVersion``); a newer version is refused rather than misread, an older one is migrated
/// in place, in the same transaction that reads the version.
///
/// Versions: 1 — tokens and scheduled ends; 2 — scheduled ends gain the `failed` state and a
/// `failure_reason` (the table is rebuilt: SQLite cannot change a `CHECK` constraint in place).
/// 3 — broadcast channels and the bindings of activities and streams to them (new tables only);
/// 4 — `ended_activities` (activities an end push reached, for refusing later updates and pruning)
/// and an index for counting scheduled ends by state and app.
/// A build that reads only version 1 refuses a file once a newer build has opened it.
///
/// Thread safety: the one connection is touched only under `lock` (a pthread mutex, which
/// ThreadSanitizer can see); every call takes the lock for its whole duration (statements,
/// transaction), so calls from any thread are serialised. Calls are synchronous and do disk I/O:
/// keep them off event loops that carry pushes.
public final class SQLiteLiveActivityRegistry: LiveActivityRegistry, @unchecked Sendable {
    /// The schema version this build writes and reads.
    public static let schemaVersion = 4

    /// The database file.
    public let path: String
    private let lock = NIOLock()
    /// Guarded by `lock`.
    private var connection: SQLiteConnection?

    /// Opens the registry at `path`, creating the file and schema if needed.
    ///
    /// - Parameters:
    ///   - path: the database file (its `-wal` and `-shm` files live beside it).
    ///   - busyTimeout: how long a call waits for another process's write lock before failing with
    ///     `SQLITE_BUSY`.
    /// - Throws: ``LiveActivityRegistryError/database(operation:code:message:)`` if the file cannot
    ///   be opened or set up, ``LiveActivityRegistryError/unsupportedSchema(found:supported:)`` for
    ///   a database written by a newer build.
    public init(path: String, busyTimeout: Duration = .seconds(5)) throws(LiveActivityRegistryError) {
        let milliseconds = busyTimeout.components.seconds * 1000 + busyTimeout.components.attoseconds / 1_000_000_000_000_000
        let connection = try SQLiteConnection(path: path, busyTimeoutMilliseconds: Int32(clamping: milliseconds))
        try Self.configure(connection)
        self.path = path
        self.connection = connection
    }

    /// Closes the database; later calls throw ``LiveActivityRegistryError/closed``. Closing twice
    /// is harmless; the registry also closes when released.
    public func close() {
        self.lock.withLock {
            self.connection?.close()
            self.connection = nil
        }
    }

    /// Runs `body` with the connection under the lock.
    func withConnection<T: Sendable>(
        _ body: (SQLiteConnection) throws(LiveActivityRegistryError) -> T
    ) throws(LiveActivityRegistryError) -> T {
        self.lock.lock()
        defer { self.lock.unlock() }
        guard let connection = self.connection, connection.isOpen else { throw .closed }
        return try body(connection)
    }

    private static func configure(_ connection: SQLiteConnection) throws(LiveActivityRegistryError) {
        let journalMode = try connection.statement("PRAGMA journal_mode=WAL")
            .firstRow("setting journal_mode=WAL") { $0.text(0) }
        guard journalMode?.lowercased() == "wal" else {
            throw .database(
                operation: "setting journal_mode=WAL", code: 0,
                message: "the database stays in journal mode \(journalMode ?? "unknown")")
        }
        try connection.execute("PRAGMA synchronous=NORMAL", operation: "setting synchronous=NORMAL")
        try connection.transaction("creating the schema") { () throws(LiveActivityRegistryError) in
            let version = try connection.statement("PRAGMA user_version")
                .firstRow("reading user_version") { Int($0.integer(0)) } ?? 0
            if version > Self.schemaVersion {
                throw .unsupportedSchema(found: version, supported: Self.schemaVersion)
            }
            if version < 1 {
                try connection.execute(Self.schemaV1, operation: "creating the schema (version 1)")
            }
            if version < 2 {
                try connection.execute(Self.migrationV2, operation: "migrating the schema to version 2")
            }
            if version < 3 {
                try connection.execute(Self.migrationV3, operation: "migrating the schema to version 3")
            }
            if version < 4 {
                try connection.execute(Self.migrationV4, operation: "migrating the schema to version 4")
            }
            if version < Self.schemaVersion {
                try connection.execute("PRAGMA user_version = \(Self.schemaVersion)", operation: "setting user_version")
            }
        }
    }

    /// Version 3: broadcast channels, and which activity or stream uses which channel.
    private static let migrationV3 = """
        CREATE TABLE broadcast_channels (
            id TEXT NOT NULL PRIMARY KEY,
            app TEXT NOT NULL,
            environment TEXT NOT NULL,
            storage_policy INTEGER NOT NULL CHECK (storage_policy IN (0, 1)),
            created_at INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX broadcast_channels_by_app ON broadcast_channels (app, environment, id);
        CREATE TABLE channel_bindings (
            kind TEXT NOT NULL CHECK (kind IN ('activity', 'stream')),
            subject_id TEXT NOT NULL,
            channel_id TEXT NOT NULL,
            bound_at INTEGER NOT NULL,
            PRIMARY KEY (kind, subject_id)
        ) WITHOUT ROWID;
        CREATE INDEX channel_bindings_by_channel ON channel_bindings (channel_id);
        """

    /// Version 4: when activities ended (their first end push that a device accepted), and a covering index
    /// for ``scheduledEndCounts()``.
    private static let migrationV4 = """
        CREATE TABLE ended_activities (
            activity_id TEXT NOT NULL PRIMARY KEY,
            ended_at INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX ended_activities_by_time ON ended_activities (ended_at, activity_id);
        CREATE INDEX scheduled_ends_by_state_app ON scheduled_ends (state, app);
        """

    /// Version 2: `failed` joins the scheduled ends' states, with `failure_reason`. Rows are copied
    /// unchanged (their reason is NULL).
    private static let migrationV2 = """
        CREATE TABLE scheduled_ends_v2 (
            id TEXT NOT NULL PRIMARY KEY,
            activity_id TEXT NOT NULL,
            app TEXT NOT NULL,
            fire_at INTEGER NOT NULL,
            content_state TEXT,
            dismissal_date INTEGER,
            state TEXT NOT NULL CHECK (state IN ('pending', 'firing', 'done', 'cancelled', 'failed')),
            created_at INTEGER NOT NULL,
            claimed_at INTEGER,
            failure_reason TEXT
        ) WITHOUT ROWID;
        INSERT INTO scheduled_ends_v2
            (id, activity_id, app, fire_at, content_state, dismissal_date, state, created_at, claimed_at)
            SELECT id, activity_id, app, fire_at, content_state, dismissal_date, state, created_at, claimed_at
            FROM scheduled_ends;
        DROP TABLE scheduled_ends;
        ALTER TABLE scheduled_ends_v2 RENAME TO scheduled_ends;
        CREATE INDEX scheduled_ends_by_state ON scheduled_ends (state, fire_at, id);
        """

    /// Version 1, as older builds created it; later versions migrate from it.
    static let schemaV1 = """
        CREATE TABLE IF NOT EXISTS activity_tokens (
            activity_id TEXT NOT NULL,
            device_id TEXT NOT NULL,
            token TEXT NOT NULL UNIQUE,
            stream_id TEXT,
            app TEXT NOT NULL,
            environment TEXT NOT NULL CHECK (environment IN ('production', 'development')),
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            dead_at INTEGER,
            dead_reason TEXT,
            PRIMARY KEY (activity_id, device_id)
        ) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS activity_tokens_by_stream
            ON activity_tokens (stream_id, activity_id, device_id) WHERE stream_id IS NOT NULL;
        CREATE TABLE IF NOT EXISTS push_to_start_tokens (
            user_id TEXT NOT NULL,
            device_id TEXT NOT NULL,
            app TEXT NOT NULL,
            token TEXT NOT NULL UNIQUE,
            environment TEXT NOT NULL CHECK (environment IN ('production', 'development')),
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            dead_at INTEGER,
            dead_reason TEXT,
            PRIMARY KEY (user_id, app, device_id)
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS scheduled_ends (
            id TEXT NOT NULL PRIMARY KEY,
            activity_id TEXT NOT NULL,
            app TEXT NOT NULL,
            fire_at INTEGER NOT NULL,
            content_state TEXT,
            dismissal_date INTEGER,
            state TEXT NOT NULL CHECK (state IN ('pending', 'firing', 'done', 'cancelled')),
            created_at INTEGER NOT NULL,
            claimed_at INTEGER
        ) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS scheduled_ends_by_state ON scheduled_ends (state, fire_at, id);
        """
}
