import APNsCore
import HTTP2Engine
import NIOCore

/// Everything an ``APNsClient`` needs: where APNs is, how to authenticate, and how hard to push.
public struct APNsClientConfiguration: Sendable {
    /// Which APNs to talk to.
    public enum Environment: Sendable, Hashable {
        case production
        case sandbox
        /// Any HTTP/2 endpoint (the bundled mock, a proxy). `caFile` adds a private CA; `serverName` overrides
        /// the name checked in the certificate.
        case custom(host: String, port: Int, serverName: String? = nil, caFile: String? = nil)

        var host: String {
            switch self {
            case .production: "api.push.apple.com"
            case .sandbox: "api.sandbox.push.apple.com"
            case .custom(let host, _, _, _): host
            }
        }

        var port: Int {
            if case .custom(_, let port, _, _) = self { return port }
            return 443
        }

        /// A short name for logs and metrics.
        public var name: String {
            switch self {
            case .production: "production"
            case .sandbox: "sandbox"
            case .custom: "custom"
            }
        }
    }

    /// How the client proves who it is.
    public enum Authentication: Sendable {
        /// ES256 provider tokens signed with a .p8 key, shared by every connection.
        case token(APNsProviderTokenCache)
        /// A TLS client certificate (one per app); no `authorization` header.
        case certificate(TLSConfiguration.ClientCertificate)
    }

    public var environment: Environment
    public var authentication: Authentication
    /// Connections in the pool.
    public var connectionCount: Int
    /// The most streams per connection, whatever the server allows.
    public var maxConcurrentStreams: Int
    /// The bound on notifications accepted and not yet answered (queued plus in flight). When it is reached,
    /// ``APNsClient/trySend(_:completion:)`` says no and the async ``APNsClient/send(_:)`` waits.
    public var maxOutstanding: Int
    /// The bound on the bytes those notifications hold: each counts its payload plus
    /// ``estimatedBytesPerNotification``. At it, as at ``maxOutstanding``, the client says no or waits; a
    /// notification larger than the whole bound is still taken when nothing else is outstanding.
    public var maxOutstandingBytes: Int
    /// How long a notification may take from acceptance to its final result, retries included.
    public var requestTimeout: TimeAmount
    public var retry: APNsRetryPolicy
    public var connectTimeout: TimeAmount
    /// How long a connection may read nothing before it sends a keep-alive PING.
    public var pingInterval: TimeAmount
    /// How long a keep-alive PING may go unanswered before the connection is closed.
    public var pingTimeout: TimeAmount
    /// How long a connection with notifications waiting for answers may read nothing before it sends a PING to
    /// check for a stall.
    public var stallTimeout: TimeAmount
    /// How long that PING may go unanswered before the connection is closed and its notifications go elsewhere
    /// (those already sent are retried and marked as possible duplicates).
    public var stallPingTimeout: TimeAmount
    /// The wait before reconnecting after a failed connect: it doubles with each failure in a row, from
    /// this, up to ``reconnectMaxBackoff``; each wait is jittered down by up to half.
    public var reconnectInitialBackoff: TimeAmount
    /// The longest wait between reconnect attempts: the longest a recovered APNs waits for the pool.
    public var reconnectMaxBackoff: TimeAmount
    /// An HTTP proxy that the connections tunnel through with `CONNECT`; nil: straight to APNs.
    public var proxy: HTTP2Proxy?

    /// Creates a configuration. The defaults are the engine's (``HTTP2PoolConfiguration``,
    /// ``HTTP2ConnectionConfiguration``), the retry policy's and this type's `default…` constants.
    public init(
        environment: Environment,
        authentication: Authentication,
        connectionCount: Int = HTTP2PoolConfiguration.defaultConnectionCount,
        maxConcurrentStreams: Int = HTTP2ConnectionConfiguration.defaultMaxConcurrentStreams,
        maxOutstanding: Int = APNsClientConfiguration.defaultMaxOutstanding,
        maxOutstandingBytes: Int = APNsClientConfiguration.defaultMaxOutstandingBytes,
        requestTimeout: TimeAmount = APNsClientConfiguration.defaultRequestTimeout,
        retry: APNsRetryPolicy = APNsRetryPolicy(),
        connectTimeout: TimeAmount = HTTP2ConnectionConfiguration.defaultConnectTimeout,
        pingInterval: TimeAmount = HTTP2ConnectionConfiguration.defaultPingInterval,
        pingTimeout: TimeAmount = HTTP2ConnectionConfiguration.defaultPingTimeout,
        stallTimeout: TimeAmount = HTTP2ConnectionConfiguration.defaultStallTimeout,
        stallPingTimeout: TimeAmount = HTTP2ConnectionConfiguration.defaultStallPingTimeout,
        reconnectInitialBackoff: TimeAmount = HTTP2PoolConfiguration.defaultReconnectInitialBackoff,
        reconnectMaxBackoff: TimeAmount = HTTP2PoolConfiguration.defaultReconnectMaxBackoff,
        proxy: HTTP2Proxy? = nil
    ) {
        self.environment = environment
        self.authentication = authentication
        self.connectionCount = connectionCount
        self.maxConcurrentStreams = maxConcurrentStreams
        self.maxOutstanding = maxOutstanding
        self.maxOutstandingBytes = maxOutstandingBytes
        self.requestTimeout = requestTimeout
        self.retry = retry
        self.connectTimeout = connectTimeout
        self.pingInterval = pingInterval
        self.pingTimeout = pingTimeout
        self.stallTimeout = stallTimeout
        self.stallPingTimeout = stallPingTimeout
        self.reconnectInitialBackoff = reconnectInitialBackoff
        self.reconnectMaxBackoff = reconnectMaxBackoff
        self.proxy = proxy
    }

    // MARK: Defaults and sensible ranges (a configuration file is held to the ranges)

    /// The default of ``maxOutstanding`` for this initializer.
    public static let defaultMaxOutstanding = 20_000
    /// The bound on outstanding notifications that keeps every stream of the pool busy: four times the streams
    /// it can have open. More only holds memory (every stream is busy already); less can leave streams idle
    /// between one answer and the next notification. The gateway's configuration uses it when it sets none.
    public static func maxOutstanding(connectionCount: Int, maxConcurrentStreams: Int) -> Int {
        4 * connectionCount * maxConcurrentStreams
    }
    /// The values of ``maxOutstanding`` worth configuring.
    public static let maxOutstandingRange = 1...10_000_000
    /// The default of ``maxOutstandingBytes``: 4 MiB, about 910 notifications of 4 KiB or 5,800 of 210 B.
    /// It keeps the gateway's resident memory under 64 MiB with 4 KiB payloads (where the count bound alone,
    /// 16,000 notifications at 4 connections, let it reach 145–185 MiB; 6 MiB still peaked at 66 MiB);
    /// docs/benchmarks.md has the measurements.
    public static let defaultMaxOutstandingBytes = 4 * 1024 * 1024
    /// The values of ``maxOutstandingBytes`` worth configuring: from 64 KiB (an eighth of it still takes the
    /// largest APNs payload, 5 KiB, with its overhead) to 64 GiB.
    public static let maxOutstandingBytesRange = 65_536...68_719_476_736
    /// What a notification is taken to hold beside its payload while outstanding, for ``maxOutstandingBytes``:
    /// the device token, the push's state and closure, its slot in the intake's batch and reply, allocator
    /// rounding. An estimate, not a measurement of each push.
    public static let estimatedBytesPerNotification = 512
    /// The default of ``requestTimeout``.
    public static let defaultRequestTimeout: TimeAmount = .seconds(30)
    /// The values of ``requestTimeout`` worth configuring.
    public static let requestTimeoutRange: ClosedRange<TimeAmount> = .milliseconds(100)...(.seconds(3600))

    var poolConfiguration: HTTP2PoolConfiguration {
        var trust = TLSConfiguration.Trust.system
        var serverName: String?
        if case .custom(_, _, let name, let caFile) = environment {
            serverName = name
            if let caFile { trust = .caFile(caFile) }
        }
        var clientCertificate: TLSConfiguration.ClientCertificate?
        if case .certificate(let certificate) = authentication { clientCertificate = certificate }
        return HTTP2PoolConfiguration(
            host: environment.host,
            port: environment.port,
            serverName: serverName,
            tls: TLSConfiguration(trust: trust, clientCertificate: clientCertificate),
            connectionCount: connectionCount,
            connection: HTTP2ConnectionConfiguration(
                maxConcurrentStreams: maxConcurrentStreams,
                pingInterval: pingInterval,
                pingTimeout: pingTimeout,
                stallTimeout: stallTimeout,
                stallPingTimeout: stallPingTimeout,
                connectTimeout: connectTimeout
            ),
            maxQueued: maxOutstanding,
            reconnectInitialBackoff: reconnectInitialBackoff,
            reconnectMaxBackoff: max(reconnectInitialBackoff, reconnectMaxBackoff),
            proxy: proxy
        )
    }
}
