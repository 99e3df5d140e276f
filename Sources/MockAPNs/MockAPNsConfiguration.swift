import NIOCore

/// Everything a ``MockAPNsServer`` needs to start: where to listen, its TLS identity, which provider
/// keys and topics it accepts, and how it misbehaves on purpose (``MockFaults``).
///
/// Only the TLS files, provider keys and bundle ids have no default; every other property can be set
/// after ``init(certificateChainPath:privateKeyPath:providerKeys:bundleIDs:)``.
public struct MockAPNsConfiguration: Sendable {
    /// The address to bind. Default `127.0.0.1`.
    public var host: String
    /// The TCP port to bind; `0` (the default) picks a free port, read it back from ``MockAPNsServer/port``.
    public var port: Int
    /// Path of the server certificate chain, PEM (for example `certs/localhost.pem`).
    public var certificateChainPath: String
    /// Path of the server private key, PEM (for example `certs/localhost.key`).
    public var privateKeyPath: String
    /// The ES256 keys whose provider tokens (JWTs) are accepted.
    public var providerKeys: [MockProviderKey]
    /// The app bundle ids whose topics are accepted. A push's topic is one of these plus the suffix its
    /// push type requires (`.voip`, `.push-type.liveactivity`, ...).
    public var bundleIDs: [String]
    /// `SETTINGS_MAX_CONCURRENT_STREAMS` in the server's first SETTINGS frame. Default 1, like APNs
    /// before the first request with a valid provider token succeeded.
    public var initialMaxConcurrentStreams: Int
    /// `SETTINGS_MAX_CONCURRENT_STREAMS` sent in a new SETTINGS frame right after the first 200 on a
    /// connection. Default 1000.
    public var authenticatedMaxConcurrentStreams: Int
    /// Device tokens answered with 410 Unregistered, each with the `timestamp` (milliseconds since the
    /// epoch) put into the response body. Tokens are compared case-insensitively.
    public var unregisteredTokens: [String: Int64]
    /// The maximum age of a provider token's `iat`, in seconds; older tokens get 403 ExpiredProviderToken.
    /// Default 3600.
    public var tokenMaxAge: Int
    /// How far in the future an `iat` may lie before the token is refused as invalid, in seconds.
    /// Default 300.
    public var tokenMaxClockSkew: Int
    /// Scripted misbehaviour; can be changed while running with ``MockAPNsServer/setFaults(_:)``.
    public var faults: MockFaults
    /// Whether request bodies are kept in ``MockAPNsServer/received``. Default `true`.
    public var recordBodies: Bool
    /// Whether requests are kept in ``MockAPNsServer/received`` at all. Default `true`; turn it off for
    /// benchmarks (``MockAPNsServer/stats`` is kept either way).
    public var recordRequests: Bool
    /// Whether NIOHTTP2 checks every header block against RFC 9113 (lowercase names, pseudo-header
    /// rules, no connection-specific headers) and resets streams that break them. Default `true`;
    /// turning it off saves about 15% of the mock's CPU in benchmarks.
    public var validatesHeaderBlocks: Bool
    /// At most this many requests are kept in ``MockAPNsServer/received``; later ones are only
    /// counted in ``MockStats/recordsDropped``. Default 1,000,000.
    public var maxRecordedRequests: Int
    /// Path of a CA bundle (PEM). When set, the server requires a TLS client certificate issued by it
    /// (certificate-based authentication): no provider token is needed and `authorization` is ignored.
    public var trustRootsForClientCertificates: String?
    /// Path of a text file to which the server appends one line per request it decided (its apns-id and
    /// what it answered) and per connection event, independent of ``recordRequests``: how a process
    /// outside the mock counts deliveries per notification. `nil` (the default): no file. The format is
    /// described at ``MockAPNsServer/recordFileFormat``.
    public var recordFilePath: String?
    /// The most broadcast channels a bundle ID may have; a create beyond it gets 400
    /// CannotCreateChannelConfig. Default 10,000, APNs's limit per app and environment.
    public var maxChannelsPerApp: Int
    /// Bundle IDs whose broadcast requests get 400 FeatureNotEnabled (the capability is off). Default none.
    public var broadcastDisabledBundleIDs: Set<String>

    /// Creates a configuration with the required TLS files, provider keys and bundle ids; every other
    /// property takes its default.
    public init(
        certificateChainPath: String,
        privateKeyPath: String,
        providerKeys: [MockProviderKey],
        bundleIDs: [String]
    ) {
        self.host = "127.0.0.1"
        self.port = 0
        self.certificateChainPath = certificateChainPath
        self.privateKeyPath = privateKeyPath
        self.providerKeys = providerKeys
        self.bundleIDs = bundleIDs
        self.initialMaxConcurrentStreams = 1
        self.authenticatedMaxConcurrentStreams = 1000
        self.unregisteredTokens = [:]
        self.tokenMaxAge = 3600
        self.tokenMaxClockSkew = 300
        self.faults = MockFaults()
        self.recordBodies = true
        self.recordRequests = true
        self.maxRecordedRequests = 1_000_000
        self.validatesHeaderBlocks = true
        self.trustRootsForClientCertificates = nil
        self.recordFilePath = nil
        self.maxChannelsPerApp = 10_000
        self.broadcastDisabledBundleIDs = []
    }
}

/// An ES256 provider key (an APNs "auth key") the mock accepts tokens from.
public struct MockProviderKey: Sendable {
    /// The 10-character key id, the JWT header's `kid`.
    public var keyID: String
    /// The 10-character team id, the JWT claims' `iss`.
    public var teamID: String
    /// The P-256 public key, PEM (`-----BEGIN PUBLIC KEY-----`).
    public var publicKeyPEM: String

    /// Creates a provider key from its ids and PEM public key.
    public init(keyID: String, teamID: String, publicKeyPEM: String) {
        self.keyID = keyID
        self.teamID = teamID
        self.publicKeyPEM = publicKeyPEM
    }
}

/// Why a ``MockAPNsServer`` could not start.
public struct MockAPNsError: Error, CustomStringConvertible, Sendable {
    /// A human-readable account of the problem.
    public var description: String

    init(_ description: String) {
        self.description = description
    }
}
