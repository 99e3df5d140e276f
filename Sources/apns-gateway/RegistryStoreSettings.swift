import Foundation
import LiveActivity
import LiveActivityPostgres

/// Where the Live Activity registry lives: `liveActivities.store`, or the older `liveActivities.registryPath`.
///
/// ```json
/// "store": {"sqlite": {"path": "/var/lib/apns-gateway/live-activities.sqlite"}}
/// "store": {"postgres": {"url": "postgres://gateway@db.internal:5432/apns", "passwordFile": "/etc/apns-gateway/pg.password",
///                        "tls": "verify-full", "leaseSeconds": 30, "poolSize": 4}}
/// ```
enum RegistryStoreSettings: Equatable, CustomStringConvertible {
    /// One SQLite file (the default; one gateway, or a few on one machine).
    case sqlite(path: String)
    /// A PostgreSQL database shared by a fleet of gateways.
    case postgres(PostgresStoreSettings)

    /// Where, for logs and `check-config`: never a password.
    var description: String {
        switch self {
        case .sqlite(let path): "sqlite \(path)"
        case .postgres(let settings): "postgres \(settings.redactedURL) (tls \(settings.tls.rawValue), lease \(settings.leaseSeconds) s)"
        }
    }

    /// `store` (exactly one of `sqlite`, `postgres`) or, without it, `registryPath`.
    static func parse(_ object: inout ConfigObject, resolve: (String) -> String) throws -> RegistryStoreSettings {
        let path = try object.string("registryPath")
        guard var store = try object.object("store") else {
            guard let path else {
                throw ConfigError(
                    key: object.key("registryPath"),
                    problem: "is required (or \"store\"): the SQLite file for Live Activity tokens and scheduled ends "
                        + "(kept across restarts)")
            }
            return .sqlite(path: resolve(path))
        }
        if path != nil {
            throw ConfigError(
                key: object.key("registryPath"),
                problem: "and \"store\" are both set: keep one (\"store\": {\"sqlite\": {\"path\": ...}} replaces registryPath)")
        }
        let kinds = store.keys
        guard kinds.count == 1 else {
            throw ConfigError(
                key: store.path,
                problem: "must hold exactly one of \"sqlite\" or \"postgres\"; found \(kinds.isEmpty ? "none" : kinds.joined(separator: ", "))")
        }
        let result: RegistryStoreSettings
        if var sqlite = try store.object("sqlite") {
            result = .sqlite(path: resolve(try sqlite.requiredString("path")))
            try sqlite.finish()
        } else if var postgres = try store.object("postgres") {
            result = .postgres(try PostgresStoreSettings.parse(&postgres, resolve: resolve))
            try postgres.finish()
        } else {
            throw ConfigError(key: store.key(kinds[0]), problem: "unknown store: use \"sqlite\" or \"postgres\"")
        }
        try store.finish()
        return result
    }
}

/// `liveActivities.store.postgres`. The password comes only from `passwordFile` (read when the configuration is
/// loaded, mode 0600 required like a key file); it is in no description, log or error.
struct PostgresStoreSettings: Equatable {
    var host: String
    var port: Int
    var user: String
    var database: String
    var passwordFile: String?
    var password: Secret?
    var tls: PostgresRegistryConfiguration.TLSMode
    var caFile: String?
    var leaseSeconds: Int64
    var poolSize: Int

    static let leaseSecondsRange = 5...3600
    static let poolSizeRange = 1...64

    /// A value whose description never shows it.
    struct Secret: Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
        let value: String
        var description: String { "<redacted>" }
        var debugDescription: String { "<redacted>" }
        var customMirror: Mirror { Mirror(self, children: []) }
    }

    /// `postgres://user@host:port/database`.
    var redactedURL: String { "postgres://\(user)@\(host):\(port)/\(database)" }

    func registryConfiguration() -> PostgresRegistryConfiguration {
        PostgresRegistryConfiguration(
            host: host, port: port, username: user, password: password?.value, database: database, tls: tls,
            caFile: caFile, leaseSeconds: leaseSeconds, poolSize: poolSize, connectTimeout: .seconds(10),
            callTimeout: .seconds(30))
    }

    static func parse(_ object: inout ConfigObject, resolve: (String) -> String) throws -> PostgresStoreSettings {
        var host: String?
        var port: Int?
        var user: String?
        var database: String?
        if let url = try object.string("url") {
            (host, port, user, database) = try parseURL(url, key: object.key("url"))
            for key in ["host", "port", "user", "database"] where object.raw(key) != nil {
                throw ConfigError(key: object.key(key), problem: "and \"url\" are both set: keep one")
            }
        } else {
            host = try object.string("host")
            port = try object.int("port", in: 1...65535)
            user = try object.string("user")
            database = try object.string("database")
        }
        guard let host, !host.isEmpty else {
            throw ConfigError(key: object.key("url"), problem: "is required (\"postgres://user@host:port/database\"), or \"host\"")
        }
        guard let user, !user.isEmpty else { throw ConfigError(key: object.key("user"), problem: "is required") }
        guard let database, !database.isEmpty else { throw ConfigError(key: object.key("database"), problem: "is required") }

        var settings = PostgresStoreSettings(
            host: host, port: port ?? 5432, user: user, database: database, passwordFile: nil, password: nil,
            tls: .verifyFull, caFile: nil, leaseSeconds: PostgresRegistryConfiguration.defaultLeaseSeconds,
            poolSize: PostgresRegistryConfiguration.defaultPoolSize)
        if object.raw("password") != nil {
            throw ConfigError(key: object.key("password"), problem: "is not accepted: put the password in a file (mode 0600) named by \"passwordFile\"")
        }
        if let file = try object.string("passwordFile").map(resolve) {
            settings.passwordFile = file
            settings.password = Secret(value: try readPassword(file, key: object.key("passwordFile")))
        }
        if let tls = try object.string("tls") {
            guard let mode = PostgresRegistryConfiguration.TLSMode(rawValue: tls) else {
                throw ConfigError(key: object.key("tls"), problem: "must be \"disable\", \"require\" or \"verify-full\"; got \"\(tls)\"")
            }
            settings.tls = mode
        }
        settings.caFile = try object.string("caFile").map(resolve)
        if settings.caFile != nil && settings.tls != .verifyFull {
            throw ConfigError(key: object.key("caFile"), problem: "is used only with \"tls\": \"verify-full\"")
        }
        if let lease = try object.int("leaseSeconds", in: leaseSecondsRange) { settings.leaseSeconds = Int64(lease) }
        settings.poolSize = try object.int("poolSize", in: poolSizeRange) ?? settings.poolSize
        return settings
    }

    /// `postgres://user@host[:port]/database` (or `postgresql://`). A password in it is refused, without echoing it.
    static func parseURL(_ url: String, key: String) throws -> (String, Int, String, String) {
        let usage = "must look like postgres://user@host:port/database"
        var rest: Substring
        if url.hasPrefix("postgres://") {
            rest = url.dropFirst("postgres://".count)
        } else if url.hasPrefix("postgresql://") {
            rest = url.dropFirst("postgresql://".count)
        } else {
            throw ConfigError(key: key, problem: usage)
        }
        guard let at = rest.lastIndex(of: "@") else { throw ConfigError(key: key, problem: "\(usage) (the user is missing)") }
        let userPart = rest[..<at]
        if userPart.contains(":") {
            throw ConfigError(key: key, problem: "holds a password: put it in a file (mode 0600) named by \"passwordFile\" instead")
        }
        rest = rest[rest.index(after: at)...]
        if rest.contains("?") { throw ConfigError(key: key, problem: "\(usage): parameters (\"?...\") are not read; use the store's keys") }
        guard let slash = rest.firstIndex(of: "/") else { throw ConfigError(key: key, problem: "\(usage) (the database is missing)") }
        let database = rest[rest.index(after: slash)...]
        var hostPort = rest[..<slash]
        var port = 5432
        if let colon = hostPort.lastIndex(of: ":"), !hostPort.hasSuffix("]") {
            guard let value = Int(hostPort[hostPort.index(after: colon)...]), (1...65535).contains(value) else {
                throw ConfigError(key: key, problem: "\(usage) (the port must be 1...65535)")
            }
            port = value
            hostPort = hostPort[..<colon]
        }
        let host = hostPort.hasPrefix("[") && hostPort.hasSuffix("]") ? hostPort.dropFirst().dropLast() : hostPort
        guard !userPart.isEmpty, !host.isEmpty, !database.isEmpty, !database.contains("/") else {
            throw ConfigError(key: key, problem: usage)
        }
        let user = userPart.removingPercentEncoding ?? String(userPart)
        return (String(host), port, user, String(database))
    }

    /// The file's content without its trailing newline; the file must exist, be private (no group or other
    /// access) and not be empty.
    static func readPassword(_ path: String, key: String) throws -> String {
        var info = stat()
        guard stat(path, &info) == 0, let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(key: key, problem: "cannot read the password file \(path)")
        }
        let mode = info.st_mode & 0o777
        if mode & 0o077 != 0 {
            throw ConfigError(
                key: key,
                problem: "the password file \(path) is accessible by group or others (mode \(String(mode, radix: 8))); run: chmod 600 \(path)")
        }
        var text = String(decoding: data, as: UTF8.self)
        while let last = text.unicodeScalars.last, last == "\n" || last == "\r" { text.unicodeScalars.removeLast() }
        guard !text.isEmpty else { throw ConfigError(key: key, problem: "the password file \(path) is empty") }
        return text
    }
}
