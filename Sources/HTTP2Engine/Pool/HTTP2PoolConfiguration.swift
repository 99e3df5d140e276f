import NIOCore

/// Settings for a pool of HTTP/2 connections to one server.
public struct HTTP2PoolConfiguration: Sendable, Hashable {
    /// The server's host name or IP address.
    public var host: String
    public var port: Int
    /// The name for SNI and certificate verification; defaults to `host`.
    public var serverName: String?
    /// The `:authority` pseudo-header; defaults to `host` (and `:port` when not 443).
    public var authority: String {
        port == 443 ? (serverName ?? host) : "\(serverName ?? host):\(port)"
    }
    public var tls: TLSConfiguration
    /// How many connections to keep open.
    public var connectionCount: Int
    public var connection: HTTP2ConnectionConfiguration
    /// The most exchanges that wait for a free stream; beyond it ``HTTP2ConnectionPool/execute(_:)`` answers
    /// ``HTTP2Error/queueFull``.
    public var maxQueued: Int
    /// Initial connects are spread by this much per connection; also the jitter of a reconnect after GOAWAY.
    public var connectStagger: TimeAmount
    /// Back-off after a failed connect: doubling from `reconnectInitialBackoff` up to `reconnectMaxBackoff`,
    /// each delay jittered.
    public var reconnectInitialBackoff: TimeAmount
    public var reconnectMaxBackoff: TimeAmount
    /// An HTTP proxy to tunnel through with `CONNECT`; nil: connect directly.
    public var proxy: HTTP2Proxy?

    /// Creates a configuration; only the host has no default (the others are the `default…` constants).
    public init(
        host: String,
        port: Int = 443,
        serverName: String? = nil,
        tls: TLSConfiguration = TLSConfiguration(),
        connectionCount: Int = HTTP2PoolConfiguration.defaultConnectionCount,
        connection: HTTP2ConnectionConfiguration = HTTP2ConnectionConfiguration(),
        maxQueued: Int = HTTP2PoolConfiguration.defaultMaxQueued,
        connectStagger: TimeAmount = HTTP2PoolConfiguration.defaultConnectStagger,
        reconnectInitialBackoff: TimeAmount = HTTP2PoolConfiguration.defaultReconnectInitialBackoff,
        reconnectMaxBackoff: TimeAmount = HTTP2PoolConfiguration.defaultReconnectMaxBackoff,
        proxy: HTTP2Proxy? = nil
    ) {
        self.host = host
        self.port = port
        self.serverName = serverName
        self.tls = tls
        self.connectionCount = connectionCount
        self.connection = connection
        self.maxQueued = maxQueued
        self.connectStagger = connectStagger
        self.reconnectInitialBackoff = reconnectInitialBackoff
        self.reconnectMaxBackoff = reconnectMaxBackoff
        self.proxy = proxy
    }

    // MARK: Defaults and sensible ranges (a configuration file is held to the ranges)

    /// The default of ``connectionCount``.
    public static let defaultConnectionCount = 2
    /// The values of ``connectionCount`` worth configuring.
    public static let connectionCountRange = 1...64
    /// The default of ``maxQueued``.
    public static let defaultMaxQueued = 10_000
    /// The default of ``connectStagger``.
    public static let defaultConnectStagger: TimeAmount = .milliseconds(100)
    /// The default of ``reconnectInitialBackoff``.
    public static let defaultReconnectInitialBackoff: TimeAmount = .milliseconds(100)
    /// The values of ``reconnectInitialBackoff`` worth configuring.
    public static let reconnectInitialBackoffRange: ClosedRange<TimeAmount> = .milliseconds(10)...(.seconds(60))
    /// The default of ``reconnectMaxBackoff``.
    public static let defaultReconnectMaxBackoff: TimeAmount = .seconds(5)
    /// The values of ``reconnectMaxBackoff`` worth configuring (at least ``reconnectInitialBackoff`` too).
    public static let reconnectMaxBackoffRange: ClosedRange<TimeAmount> = .milliseconds(10)...(.seconds(600))
}

/// A snapshot of the pool's figures.
public struct HTTP2PoolStatistics: Sendable, Hashable {
    public var queued: Int
    public var inFlight: Int
    public var connecting: Int
    public var ready: Int
    public var backingOff: Int
    public var draining: Int
    /// Each ready connection's stream limit (server SETTINGS capped by configuration).
    public var streamLimits: [Int]
    /// The stream limit of each slot's current connection, by slot (0 while it has none or is not ready).
    public var streamLimitsBySlot: [Int]
    /// The server's connection-level flow-control window of each slot's current connection, in bytes, by slot (0
    /// while it has none or is not ready): how many request-body bytes it can have on their way at once.
    public var serverWindowsBySlot: [Int]
    /// Connects started.
    public var connectionsOpened: Int
    /// Connections that ended, by ``HTTP2ConnectionEnd/label``; includes the failed connects.
    public var connectionsClosed: [String: Int]
    /// Connects that ended before the connection was ready, by ``HTTP2ConnectionEnd/label``.
    public var connectionsFailed: [String: Int]
    /// GOAWAY frames received, by error code name and reason (see ``HTTP2ConnectionEnd/goAwayLabels``).
    public var goAways: [HTTP2GoAwayKey: Int]
    /// Reconnects that waited a back-off delay after a failed connect.
    public var reconnectBackoffs: Int
    /// True once any connection has been ready.
    public var everReady: Bool
    /// Since when no connection is ready (from ``HTTP2ConnectionPool/start()`` until the first one is); nil
    /// while one is.
    public var unavailableSince: NIODeadline?
    /// Why the last connection ended (or failed to connect), for messages.
    public var lastEnd: HTTP2ConnectionEnd?
}

/// The labels of a GOAWAY: the HTTP/2 error code's name and the server's reason word.
public struct HTTP2GoAwayKey: Sendable, Hashable {
    public var errorCode: String
    public var reason: String

    public init(errorCode: String, reason: String) {
        self.errorCode = errorCode
        self.reason = reason
    }
}
