/// Why an exchange ended without a response.
public struct HTTP2Error: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Code: Hashable, Sendable {
        case notSent, connectionLost, streamReset, deadlineExceeded, shutdown, queueFull, protocolError
    }

    private let code: Code
    /// The HTTP/2 error code for a reset stream, 0 otherwise.
    public let errorCode: UInt32
    /// A short explanation.
    public let detail: String

    private init(_ code: Code, errorCode: UInt32 = 0, _ detail: String) {
        self.code = code
        self.errorCode = errorCode
        self.detail = detail
    }

    /// The request never reached the server (refused stream, above a GOAWAY's last-stream-id, or no
    /// connection could be made): resending it cannot duplicate it.
    public static func notSent(_ detail: String) -> HTTP2Error { HTTP2Error(.notSent, detail) }
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

    /// True when the request certainly did not reach the server.
    public var isNotSent: Bool { code == .notSent }
    /// True when the request may or may not have been processed.
    public var isOutcomeUnknown: Bool { code == .connectionLost || code == .streamReset }
    public var isDeadlineExceeded: Bool { code == .deadlineExceeded }
    public var isShutdown: Bool { code == .shutdown }
    public var isQueueFull: Bool { code == .queueFull }

    public static func == (lhs: HTTP2Error, rhs: HTTP2Error) -> Bool {
        lhs.code == rhs.code && lhs.errorCode == rhs.errorCode
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(errorCode)
    }

    public var description: String { detail }
}
