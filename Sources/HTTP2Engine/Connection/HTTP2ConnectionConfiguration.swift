import NIOCore

/// Settings for one client connection.
public struct HTTP2ConnectionConfiguration: Sendable, Hashable {
    /// The most streams this client opens at once, whatever the server allows.
    public var maxConcurrentStreams: Int
    /// How long a connection may sit without traffic before it sends a PING.
    public var pingInterval: TimeAmount
    /// How long to wait for a PING's acknowledgement before giving up on the connection.
    public var pingTimeout: TimeAmount
    /// How long a connection with streams waiting for answers may read nothing from the server before it sends
    /// a PING to check for a stall.
    public var stallTimeout: TimeAmount
    /// How long a PING sent while streams wait (the stall probe) may go unanswered before the connection is
    /// closed and its streams re-routed; the shorter of this and ``pingTimeout`` applies.
    public var stallPingTimeout: TimeAmount
    /// How long a TCP connect plus TLS handshake plus the server's SETTINGS may take.
    public var connectTimeout: TimeAmount
    /// How often the connection checks deadlines and keep-alive.
    public var tickInterval: TimeAmount

    /// Creates a configuration; every value has a default (the `default…` constants).
    public init(
        maxConcurrentStreams: Int = HTTP2ConnectionConfiguration.defaultMaxConcurrentStreams,
        pingInterval: TimeAmount = HTTP2ConnectionConfiguration.defaultPingInterval,
        pingTimeout: TimeAmount = HTTP2ConnectionConfiguration.defaultPingTimeout,
        stallTimeout: TimeAmount = HTTP2ConnectionConfiguration.defaultStallTimeout,
        stallPingTimeout: TimeAmount = HTTP2ConnectionConfiguration.defaultStallPingTimeout,
        connectTimeout: TimeAmount = HTTP2ConnectionConfiguration.defaultConnectTimeout,
        tickInterval: TimeAmount = HTTP2ConnectionConfiguration.defaultTickInterval
    ) {
        self.maxConcurrentStreams = maxConcurrentStreams
        self.pingInterval = pingInterval
        self.pingTimeout = pingTimeout
        self.stallTimeout = stallTimeout
        self.stallPingTimeout = stallPingTimeout
        self.connectTimeout = connectTimeout
        self.tickInterval = tickInterval
    }

    // MARK: Defaults and sensible ranges (a configuration file is held to the ranges)

    /// The default of ``maxConcurrentStreams``.
    public static let defaultMaxConcurrentStreams = 1000
    /// The values of ``maxConcurrentStreams`` worth configuring.
    public static let maxConcurrentStreamsRange = 1...10_000
    /// The default of ``pingInterval``.
    public static let defaultPingInterval: TimeAmount = .seconds(60)
    /// The values of ``pingInterval`` worth configuring.
    public static let pingIntervalRange: ClosedRange<TimeAmount> = .seconds(1)...(.seconds(86_400))
    /// The default of ``pingTimeout``.
    public static let defaultPingTimeout: TimeAmount = .seconds(10)
    /// The values of ``pingTimeout`` worth configuring.
    public static let pingTimeoutRange: ClosedRange<TimeAmount> = .milliseconds(100)...(.seconds(600))
    /// The default of ``connectTimeout``.
    /// Silence (nothing read) while streams wait before a stall probe: long enough that a busy but live server
    /// is not taken for stalled, short enough that a stall is found well inside the 30 s request deadline.
    public static let defaultStallTimeout: TimeAmount = .seconds(5)
    /// The range the daemon's configuration accepts for ``stallTimeout``.
    public static let stallTimeoutRange: ClosedRange<TimeAmount> = .milliseconds(100)...(.seconds(600))
    /// How long the stall probe may go unanswered: with the default silence, a stall is acted on after 8 s.
    public static let defaultStallPingTimeout: TimeAmount = .seconds(3)
    /// The range the daemon's configuration accepts for ``stallPingTimeout``.
    public static let stallPingTimeoutRange: ClosedRange<TimeAmount> = .milliseconds(100)...(.seconds(600))
    public static let defaultConnectTimeout: TimeAmount = .seconds(10)
    /// The values of ``connectTimeout`` worth configuring.
    public static let connectTimeoutRange: ClosedRange<TimeAmount> = .milliseconds(100)...(.seconds(600))
    /// The default of ``tickInterval``.
    public static let defaultTickInterval: TimeAmount = .milliseconds(50)
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

    /// For a GOAWAY: the HTTP/2 error code's name (`NO_ERROR`, `ENHANCE_YOUR_CALM`, …) and the server's reason,
    /// taken from debug data of the form `{"reason":"Shutdown"}` (APNs) as a short word: `""` when there is no
    /// debug data, `"other"` when it holds no such reason. Bounded, so fit for a metric label.
    public var goAwayLabels: (errorCode: String, reason: String)? {
        guard case .goAway(let code, let debug) = self else { return nil }
        return (HTTP2ConnectionEnd.errorCodeName(code), HTTP2ConnectionEnd.reasonWord(inDebugData: debug))
    }

    /// The name RFC 9113 gives an error code, or `0x…` for an unknown one.
    public static func errorCodeName(_ code: UInt32) -> String {
        let names = [
            "NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT", "STREAM_CLOSED",
            "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL", "COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM",
            "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED",
        ]
        return code < names.count ? names[Int(code)] : "0x" + String(code, radix: 16)
    }

    /// The value of `"reason"` in GOAWAY debug data when it is one word of letters and digits (at most 40).
    static func reasonWord(inDebugData debug: String) -> String {
        if debug.isEmpty { return "" }
        let utf8 = Array(debug.utf8.prefix(512))
        let key = Array(#""reason""#.utf8)
        guard utf8.count >= key.count,
              let start = (0...(utf8.count - key.count)).first(where: { utf8[$0..<$0 + key.count].elementsEqual(key) })
        else { return "other" }
        var index = start + key.count
        while index < utf8.count, utf8[index] == UInt8(ascii: " ") || utf8[index] == UInt8(ascii: ":") { index += 1 }
        guard index < utf8.count, utf8[index] == UInt8(ascii: "\"") else { return "other" }
        index += 1
        var word: [UInt8] = []
        while index < utf8.count, utf8[index] != UInt8(ascii: "\""), word.count <= 40 {
            let byte = utf8[index]
            guard (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7A) else { return "other" }
            word.append(byte)
            index += 1
        }
        guard index < utf8.count, !word.isEmpty, word.count <= 40 else { return "other" }
        return String(decoding: word, as: UTF8.self)
    }

    /// True when reconnecting cannot help without a configuration change.
    public var isFatal: Bool {
        if case .tls(let error) = self { return error.isALPNFailure || error.isHandshakeFailure }
        return false
    }
}
