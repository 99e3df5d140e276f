import NIOCore

/// A request for an op the core intake does not handle itself (anything but `send`, `ping` and `stats`),
/// handed to the ``IntakeOperation`` registered under its `op`.
public struct IntakeRequest: Sendable {
    /// The request's `op`.
    public var op: String
    /// The request's `id` exactly as it appears in the line: a JSON string with its quotes, or a number.
    /// The connection echoes it in the reply; operations need it only for their logs.
    public var id: ByteBuffer
    /// The whole request line, without its newline: one JSON object, already checked to be valid JSON.
    public var line: ByteBuffer

    /// Creates a request (the intake makes them; tests of operations may too).
    public init(op: String, id: ByteBuffer, line: ByteBuffer) {
        self.op = op
        self.id = id
        self.line = line
    }
}

/// The answer of an ``IntakeOperation``: the JSON members the connection writes after the request's id,
/// as `{"id":<id>,<members>}\n`.
public struct IntakeReply: Sendable {
    /// Members of the reply object without the surrounding braces and without a leading comma, e.g.
    /// `"removed":1`; may be empty. They must be valid JSON members and must not contain a newline.
    public var members: ByteBuffer
    /// The error code when the reply is an error, counted in `stats.intake.errors`.
    public var errorCode: String?

    /// A reply with the given members; `errorCode` marks it as an error for the intake's counters.
    public init(members: ByteBuffer, errorCode: String? = nil) {
        self.members = members
        self.errorCode = errorCode
    }

    /// `"error":{"code":<code>,"message":<message>}`, the protocol's error shape.
    public static func error(code: String, message: String) -> IntakeReply {
        var buffer = ByteBufferAllocator().buffer(capacity: 48 + code.utf8.count + message.utf8.count)
        buffer.writeStaticString("\"error\":{\"code\":")
        ReplyWriter.writeString(code, into: &buffer)
        buffer.writeStaticString(",\"message\":")
        ReplyWriter.writeString(message, into: &buffer)
        buffer.writeInteger(UInt8(ascii: "}"))
        return IntakeReply(members: buffer, errorCode: code)
    }
}

/// A handler for one extension op of the intake protocol, given to
/// ``IntakeServer/start(configuration:apps:defaultApp:operations:group:logger:)`` under its op name.
///
/// The connection calls ``handle(_:)`` from a task of its own for every request with that op and writes the
/// returned reply; the request counts as pending until then (a draining connection waits for it). A
/// connection stops reading while ``IntakeConfiguration/maxOperationsPerConnection`` of its requests are
/// running, and answers `DeadlineExceeded` for one that takes longer than
/// ``IntakeConfiguration/operationTimeout`` (the late reply is dropped).
///
/// Implementations must not block the calling thread on I/O: move blocking work to a thread pool.
public protocol IntakeOperation: Sendable {
    /// Carries out one request and returns its reply.
    func handle(_ request: IntakeRequest) async -> IntakeReply
}
