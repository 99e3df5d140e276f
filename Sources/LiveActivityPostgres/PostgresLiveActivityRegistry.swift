import Foundation
import LiveActivity
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO

/// The ``LiveActivityRegistry`` in a PostgreSQL database, shared by a fleet of gateways.
///
/// ## Calls stay synchronous
/// The protocol is synchronous and the service already runs every registry call on its own thread pool (never on an
/// event loop), so each call here runs its queries as a task on a pooled connection (postgres-nio's
/// `PostgresClient`) and the calling thread waits for it, with a deadline (``PostgresRegistryConfiguration/callTimeout``).
/// Blocking a thread-pool thread is what the SQLite store does for disk I/O; making the protocol async would change
/// every caller for no gain. Never call it on an event loop or from a Swift concurrency task's thread.
///
/// ## Schema
/// Migrations are versioned in `schema_migrations` and applied at start in one transaction holding
/// `pg_advisory_xact_lock` on ``migrationLockKey``: gateways starting together apply each migration once, the others
/// wait for the lock and find it done. A database migrated by a newer build is refused
/// (``LiveActivityRegistryError/unsupportedSchema(found:supported:)``). Text keys use the `"C"` collation, so
/// orderings are bytewise as in SQLite.
///
/// ## Concurrency
/// A registration (read, then write) holds transaction-scoped advisory locks on its key and its token, so two
/// gateways registering the same key or token do not interleave; other writes are single statements.
///
/// ## Scheduled ends: claims with leases
/// ``claimDue(now:limit:)`` takes due `pending` ends with `FOR UPDATE SKIP LOCKED` (gateways claiming together
/// never wait for or share an end) and stamps them with this gateway's ``claimerID`` and `lease_until = now +
/// leaseSeconds`. An end still `firing` after its lease (its claimer died, or stalled) is claimed again by the next
/// claim of any gateway and marked ``ScheduledEnd/possiblySent``: its first claimer may have sent it before dying.
/// Every end is therefore sent exactly once while gateways live, and at least once (flagged) when one dies.
public final class PostgresLiveActivityRegistry: LiveActivityRegistry, @unchecked Sendable {
    /// The schema version this build writes and reads.
    public static let schemaVersion = 1
    /// The advisory lock key held while migrating (`'apns-gateway'` as bytes).
    public static let migrationLockKey: Int64 = 0x6170_6e73_2d67_7721

    /// The logger given to postgres-nio for queries (made once: making a logger is not free).
    static let queryLogger = Logger(label: "apns.registry.postgres")

    public let configuration: PostgresRegistryConfiguration
    /// Who this registry claims scheduled ends as: host, process ID and a random suffix.
    public let claimerID: String
    let client: PostgresClient
    private let runTask: Task<Void, Never>
    private let eventLoop: any EventLoop
    private let logger: Logger
    private let closed = NIOLockedValueBox(false)

    /// Connects, applies the migrations and starts the connection pool. Fails at once, naming the SQLSTATE, when
    /// the server refuses (a wrong password is `28P01`) and within ``PostgresRegistryConfiguration/connectTimeout``
    /// when it cannot be reached. Blocks the calling thread: not on an event loop.
    public init(
        configuration: PostgresRegistryConfiguration,
        claimerID: String? = nil,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "apns.registry.postgres")
    ) throws(LiveActivityRegistryError) {
        guard configuration.leaseSeconds > 0 else {
            throw .badIdentifier(field: "leaseSeconds", problem: "must be positive, not \(configuration.leaseSeconds)")
        }
        self.configuration = configuration
        self.claimerID = claimerID ?? Self.defaultClaimerID()
        self.eventLoop = eventLoopGroup.any()
        self.logger = logger

        let tls = configuration.tlsConfiguration()
        // One connection first: it applies the migrations and turns a wrong password or an unreachable server into
        // an error now (the pool would retry connecting in the background).
        var single: PostgresConnection.Configuration
        if let socket = configuration.unixSocketPath {
            single = .init(
                unixSocketPath: socket, username: configuration.username, password: configuration.password,
                database: configuration.database)
        } else {
            let mode: PostgresConnection.Configuration.TLS
            do {
                mode = try tls.map { .require(try NIOSSLContext(configuration: $0)) } ?? .disable
            } catch {
                throw .postgres(operation: "setting up TLS", sqlState: nil, message: "\(error)")
            }
            single = .init(
                host: configuration.host, port: configuration.port, username: configuration.username,
                password: configuration.password, database: configuration.database, tls: mode)
        }
        single.options.connectTimeout = .nanoseconds(Int64(Self.nanoseconds(configuration.connectTimeout)))
        let place = configuration.description
        let connectionConfiguration = single
        try Self.wait(on: self.eventLoop, timeout: configuration.connectTimeout + configuration.callTimeout,
            operation: "connecting to \(place)") { [logger] in
            let connection = try await PostgresConnection.connect(
                on: eventLoopGroup.any(), configuration: connectionConfiguration, id: 0, logger: logger)
            do {
                try await Self.migrate(connection, logger: logger)
            } catch {
                try? await connection.close()
                throw error
            }
            try? await connection.close()
        }

        var pooled: PostgresClient.Configuration
        if let socket = configuration.unixSocketPath {
            pooled = .init(
                unixSocketPath: socket, username: configuration.username, password: configuration.password,
                database: configuration.database)
        } else {
            pooled = .init(
                host: configuration.host, port: configuration.port, username: configuration.username,
                password: configuration.password, database: configuration.database,
                tls: tls.map { .require($0) } ?? .disable)
        }
        pooled.options.maximumConnections = max(1, configuration.poolSize)
        pooled.options.minimumConnections = 0
        pooled.options.connectTimeout = configuration.connectTimeout
        let client = PostgresClient(configuration: pooled, eventLoopGroup: eventLoopGroup, backgroundLogger: logger)
        self.client = client
        self.runTask = Task { await client.run() }
    }

    deinit {
        self.runTask.cancel()
    }

    /// One call per pooled connection.
    public var concurrentCalls: Int { max(1, self.configuration.poolSize) }

    /// Claims expire after ``PostgresRegistryConfiguration/leaseSeconds`` and are taken over.
    public var claimsAreLeases: Bool { true }

    public func close() {
        let wasClosed = self.closed.withLockedValue { closed in
            defer { closed = true }
            return closed
        }
        if !wasClosed { self.runTask.cancel() }
    }

    private static func defaultClaimerID() -> String {
        let host = ProcessInfo.processInfo.hostName
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        return "\(host.prefix(64))/\(getpid())/\(suffix)"
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    // MARK: Running queries

    /// Runs `body` on a pooled connection and waits for it.
    func run<T: Sendable>(
        _ operation: String,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) throws(LiveActivityRegistryError) -> T {
        if self.closed.withLockedValue({ $0 }) { throw .closed }
        let client = self.client
        return try Self.wait(on: self.eventLoop, timeout: self.configuration.callTimeout, operation: operation) {
            try await client.withConnection { connection in try await body(connection) }
        }
    }

    /// Runs `body` in a transaction on a pooled connection (rolled back if it throws) and waits for it.
    func transaction<T: Sendable>(
        _ operation: String,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) throws(LiveActivityRegistryError) -> T {
        let logger = self.logger
        return try self.run(operation) { connection in
            try await Self.inTransaction(connection, logger: logger, body)
        }
    }

    static func inTransaction<T>(
        _ connection: PostgresConnection,
        logger: Logger,
        _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await connection.query("BEGIN", logger: logger)
        do {
            let value = try await body(connection)
            try await connection.query("COMMIT", logger: logger)
            return value
        } catch {
            _ = try? await connection.query("ROLLBACK", logger: logger)
            throw error
        }
    }

    /// Waits on the calling thread for `body`, run as a task, for at most `timeout`.
    private static func wait<T: Sendable>(
        on eventLoop: any EventLoop,
        timeout: Duration,
        operation: String,
        _ body: @escaping @Sendable () async throws -> T
    ) throws(LiveActivityRegistryError) -> T {
        let promise = eventLoop.makePromise(of: T.self)
        let task = Task {
            do {
                promise.succeed(try await body())
            } catch {
                promise.fail(error)
            }
        }
        let deadline = eventLoop.scheduleTask(in: .nanoseconds(Self.nanoseconds(timeout))) {
            task.cancel()
            promise.fail(LiveActivityRegistryError.postgres(
                operation: operation, sqlState: nil, message: "no answer within \(timeout)"))
        }
        defer { deadline.cancel() }
        do {
            return try promise.futureResult.wait()
        } catch {
            throw Self.registryError(error, operation: operation)
        }
    }

    /// A registry error for what postgres-nio threw: the server's SQLSTATE and message when it answered, else what
    /// failed on the way (never the query's binds or a password).
    static func registryError(_ error: any Error, operation: String) -> LiveActivityRegistryError {
        if let error = error as? LiveActivityRegistryError { return error }
        if let error = error as? PSQLError {
            if let info = error.serverInfo {
                let message = [info[.message], info[.detail]].compactMap { $0 }.joined(separator: "; ")
                return .postgres(operation: operation, sqlState: info[.sqlState], message: message)
            }
            var message = error.code.description
            if let underlying = error.underlying { message += ": \(underlying)" }
            return .postgres(operation: operation, sqlState: nil, message: message)
        }
        if error is CancellationError {
            return .postgres(operation: operation, sqlState: nil, message: "cancelled")
        }
        return .postgres(operation: operation, sqlState: nil, message: "\(error)")
    }

    // MARK: Migrations

    private static func migrate(_ connection: PostgresConnection, logger: Logger) async throws {
        try await Self.inTransaction(connection, logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.migrationLockKey))", logger: logger)
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
                logger: logger)
            var found = 0
            for try await version in try await connection.query(
                "SELECT coalesce(max(version), 0)::int8 FROM schema_migrations", logger: logger
            ).decode(Int64.self) {
                found = Int(version)
            }
            if found > Self.schemaVersion {
                throw LiveActivityRegistryError.unsupportedSchema(found: found, supported: Self.schemaVersion)
            }
            for (index, statements) in Self.migrations.enumerated() where index + 1 > found {
                for statement in statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(
                    "INSERT INTO schema_migrations (version) VALUES (\(Int64(index + 1)))", logger: logger)
                logger.notice("registry schema migrated", metadata: ["version": "\(index + 1)"])
            }
        }
    }

    /// Migration `n` is `migrations[n - 1]`, one statement per element.
    static let migrations: [[String]] = [
        [
            """
            CREATE TABLE activity_tokens (
                activity_id TEXT COLLATE "C" NOT NULL,
                device_id TEXT COLLATE "C" NOT NULL,
                token TEXT COLLATE "C" NOT NULL UNIQUE,
                stream_id TEXT COLLATE "C",
                app TEXT COLLATE "C" NOT NULL,
                environment TEXT NOT NULL CHECK (environment IN ('production', 'development')),
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                dead_at BIGINT,
                dead_reason TEXT,
                PRIMARY KEY (activity_id, device_id)
            )
            """,
            """
            CREATE INDEX activity_tokens_by_stream ON activity_tokens (stream_id, activity_id, device_id)
                WHERE stream_id IS NOT NULL
            """,
            """
            CREATE TABLE push_to_start_tokens (
                user_id TEXT COLLATE "C" NOT NULL,
                device_id TEXT COLLATE "C" NOT NULL,
                app TEXT COLLATE "C" NOT NULL,
                token TEXT COLLATE "C" NOT NULL UNIQUE,
                environment TEXT NOT NULL CHECK (environment IN ('production', 'development')),
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                dead_at BIGINT,
                dead_reason TEXT,
                PRIMARY KEY (user_id, app, device_id)
            )
            """,
            """
            CREATE TABLE scheduled_ends (
                id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
                activity_id TEXT COLLATE "C" NOT NULL,
                app TEXT COLLATE "C" NOT NULL,
                fire_at BIGINT NOT NULL,
                content_state TEXT,
                dismissal_date BIGINT,
                state TEXT COLLATE "C" NOT NULL CHECK (state IN ('pending', 'firing', 'done', 'cancelled', 'failed')),
                created_at BIGINT NOT NULL,
                claimed_at BIGINT,
                failure_reason TEXT,
                claimed_by TEXT,
                lease_until BIGINT,
                possibly_sent BOOLEAN NOT NULL DEFAULT false
            )
            """,
            "CREATE INDEX scheduled_ends_due ON scheduled_ends (fire_at, id) WHERE state = 'pending'",
            "CREATE INDEX scheduled_ends_leases ON scheduled_ends (lease_until) WHERE state = 'firing'",
            "CREATE INDEX scheduled_ends_by_state ON scheduled_ends (state, fire_at, id)",
            "CREATE INDEX scheduled_ends_by_state_app ON scheduled_ends (state, app)",
            """
            CREATE TABLE ended_activities (
                activity_id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
                ended_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX ended_activities_by_time ON ended_activities (ended_at, activity_id)",
            """
            CREATE TABLE broadcast_channels (
                id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
                app TEXT COLLATE "C" NOT NULL,
                environment TEXT COLLATE "C" NOT NULL,
                storage_policy INTEGER NOT NULL CHECK (storage_policy IN (0, 1)),
                created_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX broadcast_channels_by_app ON broadcast_channels (app, environment, id)",
            """
            CREATE TABLE channel_bindings (
                kind TEXT NOT NULL CHECK (kind IN ('activity', 'stream')),
                subject_id TEXT COLLATE "C" NOT NULL,
                channel_id TEXT COLLATE "C" NOT NULL,
                bound_at BIGINT NOT NULL,
                PRIMARY KEY (kind, subject_id)
            )
            """,
            "CREATE INDEX channel_bindings_by_channel ON channel_bindings (channel_id)",
        ]
    ]
}

extension PostgresRandomAccessRow {
    /// Decodes column `index`.
    func at<T: PostgresDecodable>(_ index: Int, as type: T.Type = T.self) throws -> T {
        try self[index].decode(T.self)
    }
}

extension PostgresRowSequence {
    /// Every row, mapped.
    func collect<T>(_ map: (PostgresRandomAccessRow) throws -> T) async throws -> [T] {
        var values: [T] = []
        for try await row in self {
            values.append(try map(row.makeRandomAccess()))
        }
        return values
    }

    /// How many rows (for `RETURNING 1`).
    func count() async throws -> Int {
        var count = 0
        for try await _ in self { count += 1 }
        return count
    }
}
