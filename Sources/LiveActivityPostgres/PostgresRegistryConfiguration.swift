import NIOSSL

/// Where and how ``PostgresLiveActivityRegistry`` connects. The password is held here only to connect: it is
/// never part of ``description`` or of any error.
public struct PostgresRegistryConfiguration: Sendable, CustomStringConvertible {
    /// How the connection is encrypted, with libpq's names.
    public enum TLSMode: String, Sendable, CaseIterable {
        /// Plain TCP (or a Unix socket).
        case disable
        /// TLS, without checking the server's certificate (encrypted, not authenticated).
        case require
        /// TLS, the certificate checked against the trusted roots (``caFile`` or the system's) and the host name.
        case verifyFull = "verify-full"
    }

    /// The server's host name or address (ignored when ``unixSocketPath`` is set).
    public var host: String
    public var port: Int
    /// A Unix socket file of the server (`.../.s.PGSQL.5432`) instead of TCP.
    public var unixSocketPath: String?
    public var username: String
    /// The password (read from the configured file), or `nil` for trust or peer authentication.
    public var password: String?
    public var database: String
    public var tls: TLSMode
    /// PEM file of the certificate authorities trusted for `verify-full` (the system's when `nil`).
    public var caFile: String?
    /// How long a claimed scheduled end is its claimer's: after that, another gateway may take it over and mark it
    /// ``LiveActivity/ScheduledEnd/possiblySent``. Must be longer than sending one claimed batch takes.
    public var leaseSeconds: Int64
    /// The most connections one gateway opens.
    public var poolSize: Int
    /// How long connecting (TCP, TLS, authentication) may take before start fails.
    public var connectTimeout: Duration
    /// How long one registry call may take (waiting for a pooled connection included) before it fails.
    public var callTimeout: Duration

    public static let defaultLeaseSeconds: Int64 = 30
    public static let defaultPoolSize = 4

    public init(
        host: String,
        port: Int = 5432,
        unixSocketPath: String? = nil,
        username: String,
        password: String?,
        database: String,
        tls: TLSMode = .disable,
        caFile: String? = nil,
        leaseSeconds: Int64 = PostgresRegistryConfiguration.defaultLeaseSeconds,
        poolSize: Int = PostgresRegistryConfiguration.defaultPoolSize,
        connectTimeout: Duration = .seconds(10),
        callTimeout: Duration = .seconds(30)
    ) {
        self.host = host
        self.port = port
        self.unixSocketPath = unixSocketPath
        self.username = username
        self.password = password
        self.database = database
        self.tls = tls
        self.caFile = caFile
        self.leaseSeconds = leaseSeconds
        self.poolSize = poolSize
        self.connectTimeout = connectTimeout
        self.callTimeout = callTimeout
    }

    /// `postgres://user@host:port/database` (or the socket), the TLS mode: never the password.
    public var description: String {
        let place = self.unixSocketPath.map { "unix:\($0)" } ?? "\(self.host):\(self.port)"
        return "postgres://\(self.username)@\(place)/\(self.database) (tls \(self.tls.rawValue))"
    }

    /// NIOSSL's client configuration for the mode; `nil` for `disable`.
    func tlsConfiguration() -> TLSConfiguration? {
        switch self.tls {
        case .disable:
            return nil
        case .require:
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = .none
            return configuration
        case .verifyFull:
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = .fullVerification
            if let caFile = self.caFile {
                configuration.trustRoots = .file(caFile)
            }
            return configuration
        }
    }
}
