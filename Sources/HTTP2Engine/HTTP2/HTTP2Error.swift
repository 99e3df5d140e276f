/// Why an exchange ended without a response.
public struct HTTP2Error: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure it is: switch on this, never on ``detail``.
    public enum Kind: Hashable, Sendable {
        /// The request never reached the server (refused stream, above a GOAWAY's last-stream-id, a connection
        /// closed before it was written, a deadline passed while waiting for a connection).
        case notSent
        /// No connection could be made, for a reason retrying cannot fix (certificate, ALPN): the request never
        /// reached the server.
        case connectFailed
        /// The connection died after the request was sent and before its response.
        case connectionLost
        /// The server reset the stream (``HTTP2Error/errorCode``).
        case streamReset
        /// The exchange's deadline passed.
        case deadlineExceeded
        /// The pool is shutting down.
        case shutdown
        /// The pool's wait queue is full.
        case queueFull
        /// The server broke the protocol for this stream.
        case protocolError
    }

    /// What kind of failure it is.
    public let kind: Kind
    /// The HTTP/2 error code for a reset stream, 0 otherwise.
    public let errorCode: UInt32
    /// A short explanation, for people: not to be matched on (use ``kind``).
    public let detail: String

    private init(_ kind: Kind, errorCode: UInt32 = 0, _ detail: String) {
        self.kind = kind
        self.errorCode = errorCode
        self.detail = detail
    }

    /// The request never reached the server (refused stream, above a GOAWAY's last-stream-id, or no
    /// connection was ready in time): resending it cannot duplicate it.
    public static func notSent(_ detail: String) -> HTTP2Error { HTTP2Error(.notSent, detail) }
    /// No connection could be made and reconnecting will not help by itself (``HTTP2ConnectionEnd/isFatal``):
    /// the request never reached the server. The detail reads `cannot connect: <reason>`.
    public static func connectFailed(_ reason: HTTP2ConnectionEnd) -> HTTP2Error {
        HTTP2Error(.connectFailed, "cannot connect: \(reason)")
    }
    /// The connection died after the request was sent and before its response: the outcome is unknown.
    public static func connectionLost(_ detail: String) -> HTTP2Error { HTTP2Error(.connectionLost, detail) }
    /// The server reset the stream with `errorCode`: the outcome is unknown.
    public static func streamReset(_ errorCode: UInt32) -> HTTP2Error {
        HTTP2Error(.streamReset, errorCode: errorCode, "stream reset by the server (HTTP/2 error \(errorCode))")
    }
    /// The exchange's deadline passed.
    public static let deadlineExceeded = HTTP2Error(.deadlineExceeded, "deadline exceeded")
    /// The pool is shutting down.
    public static let shutdown = HTTP2Error(.shutdown, "the connection pool is shutting down")
    /// The pool's wait queue is full: back off and try again.
    public static let queueFull = HTTP2Error(.queueFull, "the connection pool's queue is full")
    /// The server broke the protocol for this stream.
    public static func protocolError(_ detail: String) -> HTTP2Error { HTTP2Error(.protocolError, detail) }

    /// True when the request certainly did not reach the server (``Kind/notSent`` or ``Kind/connectFailed``).
    public var isNotSent: Bool { kind == .notSent || kind == .connectFailed }
    /// True when the request may or may not have been processed.
    public var isOutcomeUnknown: Bool { kind == .connectionLost || kind == .streamReset }
    public var isDeadlineExceeded: Bool { kind == .deadlineExceeded }
    public var isShutdown: Bool { kind == .shutdown }
    public var isQueueFull: Bool { kind == .queueFull }

    public static func == (lhs: HTTP2Error, rhs: HTTP2Error) -> Bool {
        lhs.kind == rhs.kind && lhs.errorCode == rhs.errorCode
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(kind)
        hasher.combine(errorCode)
    }

    public var description: String { detail }
}
