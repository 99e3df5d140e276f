import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A throw-away PostgreSQL 15 cluster (Debian's `postgresql` package) for tests: `initdb` into a temporary folder,
/// the server on a free loopback port and a private Unix socket folder, password (SCRAM) authentication for a
/// test user allowed to create databases, and everything stopped and removed by ``stop()``.
///
/// `initdb` and the server refuse to run as root: as root they run as the `postgres` user (`setpriv`), in folders
/// that user owns. Missing binaries are an error naming the package to install, never a skipped test.
public final class PostgresCluster: @unchecked Sendable {
    /// Where Debian installs the server's programs.
    public static let binaries = "/usr/lib/postgresql/15/bin"
    public static let psql = "/usr/bin/psql"

    public let port: Int
    /// The folder of the server's Unix socket (`.s.PGSQL.<port>`).
    public let socketFolder: String
    /// The test user: it logs in with ``password`` and may create databases.
    public let user = "gateway_test"
    public let password: String
    /// A file holding ``password`` (mode 0600), as the gateway's `passwordFile` wants it.
    public let passwordFile: String
    private let superPassword: String
    private let folder: String
    private let lock = NSLock()
    private var pid: pid_t = 0
    private var stopped = false
    private var databaseCount = 0

    /// Creates and starts the cluster; returns once the test user can log in (at most `startTimeout`).
    public init(startTimeout: Duration = .seconds(60)) throws {
        for tool in ["initdb", "postgres"] where !FileManager.default.isExecutableFile(atPath: Self.binaries + "/" + tool) {
            throw PostgresClusterError(
                "\(Self.binaries)/\(tool) is missing: the PostgreSQL tests need Debian's postgresql 15 server "
                    + "(scripts/install-packages.sh --tests installs it)")
        }
        guard FileManager.default.isExecutableFile(atPath: Self.psql) else {
            throw PostgresClusterError("\(Self.psql) is missing: apt-get install postgresql-client")
        }
        folder = NSTemporaryDirectory() + "pgcluster-" + String(UUID().uuidString.prefix(8))
        socketFolder = folder + "/socket"
        password = "test-" + UUID().uuidString
        superPassword = "super-" + UUID().uuidString
        passwordFile = folder + "/gateway.password"
        port = try freeLoopbackPort()

        let asRoot = geteuid() == 0
        var owner: (uid_t, gid_t)?
        if asRoot {
            guard let entry = getpwnam("postgres") else {
                throw PostgresClusterError("running as root and there is no postgres user to run the server as")
            }
            owner = (entry.pointee.pw_uid, entry.pointee.pw_gid)
        }
        try FileManager.default.createDirectory(atPath: socketFolder, withIntermediateDirectories: true)
        let superFile = folder + "/super.password"
        try superPassword.write(toFile: superFile, atomically: false, encoding: .utf8)
        try password.write(toFile: passwordFile, atomically: false, encoding: .utf8)
        chmod(folder, 0o700)
        chmod(superFile, 0o600)
        chmod(passwordFile, 0o600)
        if let (uid, gid) = owner {
            for path in [folder, socketFolder, superFile] { chown(path, uid, gid) }
        }
        // As root, the server's user needs to reach the folder inside the temporary folder.
        let prefix = asRoot ? ["/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"] : []

        let initdb = try Self.runTool(
            prefix + [
                Self.binaries + "/initdb", "-D", folder + "/data", "-U", "postgres", "--pwfile=" + superFile,
                "--auth-local=scram-sha-256", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync",
            ], timeout: .seconds(120))
        guard initdb.status == 0 else {
            throw PostgresClusterError("initdb failed (\(initdb.status)): \(initdb.output)")
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, folder + "/server.log", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let server = prefix + [
            Self.binaries + "/postgres", "-D", folder + "/data", "-p", "\(port)", "-k", socketFolder,
            "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
            "-c", "full_page_writes=off", "-c", "max_connections=200", "-c", "shared_buffers=64MB",
        ]
        pid = try Spawn.start(server[0], Array(server.dropFirst()), actions: &actions)

        // Ready when the superuser can log in over TCP; then the test user is created.
        let deadline = ContinuousClock.now + startTimeout
        while true {
            let probe = try? self.superuser("SELECT 1", timeout: .seconds(10))
            if probe?.status == 0 { break }
            if Spawn.reapIfExited(pid) != nil {
                stopped = true
                throw PostgresClusterError("the PostgreSQL server exited at start: \(serverLog)")
            }
            guard ContinuousClock.now < deadline else {
                stop()
                throw PostgresClusterError("PostgreSQL was not ready within \(startTimeout): \(serverLog)")
            }
            usleep(50_000)  // polling a server that is starting up, not ordering a race
        }
        let role = try superuser("CREATE ROLE \(user) LOGIN CREATEDB PASSWORD '\(password)'", timeout: .seconds(30))
        guard role.status == 0 else {
            stop()
            throw PostgresClusterError("cannot create the test user: \(role.output)")
        }
    }

    deinit { stop() }

    /// What the server logged so far.
    public var serverLog: String {
        (try? String(contentsOfFile: folder + "/server.log", encoding: .utf8)) ?? ""
    }

    /// A new empty database owned by the test user; its name.
    public func createDatabase(prefix: String = "test") throws -> String {
        let name = lock.withLock { () -> String in
            databaseCount += 1
            return "\(prefix)_\(databaseCount)"
        }
        let result = try superuser("CREATE DATABASE \(name) OWNER \(user)", timeout: .seconds(60))
        guard result.status == 0 else { throw PostgresClusterError("cannot create database \(name): \(result.output)") }
        return name
    }

    /// Drops a database (closing its connections first).
    public func dropDatabase(_ name: String) {
        _ = try? superuser("DROP DATABASE IF EXISTS \(name) WITH (FORCE)", timeout: .seconds(60))
    }

    /// Runs SQL as the superuser with psql over TCP: its exit status and output.
    @discardableResult
    public func superuser(_ sql: String, database: String = "postgres", timeout: Duration = .seconds(30)) throws
        -> (status: Int32, output: String)
    {
        try Self.runTool(
            [Self.psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", "\(port)", "-U", "postgres",
             "-d", database, "-c", sql],
            environment: ["PGPASSWORD": superPassword, "PGCONNECT_TIMEOUT": "5"], timeout: timeout)
    }

    /// Stops the server (fast shutdown, SIGKILL after 20 s) and removes its folder.
    public func stop() {
        let running = lock.withLock { () -> Bool in
            defer { stopped = true }
            return !stopped
        }
        if running {
            Spawn.stop(pid, signal: SIGINT, timeout: .seconds(20))
        }
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// Runs a program to its end, at most `timeout`: exit status and what it printed (stdout and stderr).
    static func runTool(_ command: [String], environment: [String: String] = [:], timeout: Duration) throws
        -> (status: Int32, output: String)
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("pgtool-\(UUID().uuidString).log")
        guard FileManager.default.createFile(atPath: output.path, contents: nil) else {
            throw PostgresClusterError("cannot create \(output.path) for the output of \(command[0])")
        }
        defer { try? FileManager.default.removeItem(at: output) }
        let handle = try FileHandle(forWritingTo: output)
        defer { try? handle.close() }
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            guard ContinuousClock.now < deadline else {
                process.terminate()
                throw PostgresClusterError("\(command[0]) did not finish within \(timeout)")
            }
            usleep(10_000)  // polling a child's exit, not ordering a race
        }
        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        return (process.terminationStatus, text.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

/// Why ``PostgresCluster`` could not start or do what was asked.
public struct PostgresClusterError: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
