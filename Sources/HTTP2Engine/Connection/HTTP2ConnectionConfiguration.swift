import NIOCore

/// Settings for one client connection.
public struct HTTP2ConnectionConfiguration: Sendable, Hashable {
    /// The most streams this client opens at once, whatever the server allows.
    public var maxConcurrentStreams: Int
    /// How long a connection may sit without traffic before it sends a PING.
    public var pingInterval: TimeAmount
    /// How long to wait for a PING's acknowledgement before giving up on the connection.
    public var pingTimeout: TimeAmount
    /// How long a TCP connect plus TLS handshake plus the server's SETTINGS may take.
    public var connectTimeout: TimeAmount
    /// How often the connection checks deadlines and keep-alive.
    public var tickInterval: TimeAmount

    public init(
        maxConcurrentStreams: Int = 1000,
        pingInterval: TimeAmount = .seconds(60),
        pingTimeout: TimeAmount = .seconds(10),
        connectTimeout: TimeAmount = .seconds(10),
        tickInterval: TimeAmount = .milliseconds(50)
    ) {
        self.maxConcurrentStreams = maxConcurrentStreams
        self.pingInterval = pingInterval
        self.pingTimeout = pingTimeout
        self.connectTimeout = connectTimeout
        self.tickInterval = tickInterval
    }
}

/// How a connection ended, as the pool sees it.
public enum HTTP2ConnectionEnd: Sendable, Hashable, CustomStringConvertible {
    /// The server sent GOAWAY.
    case goAway(errorCode: UInt32, debugData: String)
    /// TLS failed; `fatal` when retrying cannot help (certificate or ALPN problems).
    case tls(TLSError)
    /// The TCP connection failed or closed.
    case transport(String)
    /// The server went silent (no PING acknowledgement, or no SETTINGS in time).
    case timeout(String)
    /// The server broke the protocol.
    case protocolError(String)
    /// The pool closed it.
    case closedLocally

    public var description: String {
        switch self {
        case .goAway(let code, let debug): debug.isEmpty ? "GOAWAY (error \(code))" : "GOAWAY (error \(code)): \(debug)"
        case .tls(let error): error.description
        case .transport(let text): "connection failed: \(text)"
        case .timeout(let text): "timed out: \(text)"
        case .protocolError(let text): "HTTP/2 protocol error: \(text)"
        case .closedLocally: "closed by the pool"
        }
    }

    /// A short label for metrics.
    public var label: String {
        switch self {
        case .goAway: "goaway"
        case .tls(let error): error.isALPNFailure ? "alpn" : "tls"
        case .transport: "transport"
        case .timeout: "timeout"
        case .protocolError: "protocol"
        case .closedLocally: "local"
        }
    }

    /// True when reconnecting cannot help without a configuration change.
    public var isFatal: Bool {
        if case .tls(let error) = self { return error.isALPNFailure || error.isHandshakeFailure }
        return false
    }
}
