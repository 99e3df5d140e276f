import JSON
import NIOCore

/// A request for an op the core intake does not handle itself (anything but `send`, `ping` and `stats`),
/// handed to the ``IntakeOperation`` registered under its `op`, already decoded: the line was scanned once, by
/// the intake, and its members come as a ``JSONObject``.
public struct IntakeRequest: Sendable {
    /// The request's `op`.
    public var op: String
    /// The request's `id` exactly as it appears in the line: a JSON string with its quotes, or a number.
    /// The connection echoes it in the reply; operations need it only for their logs.
    public var id: ByteBuffer
    /// The request object's members (`id` and `op` among them), each value as the bytes received.
    public var members: JSONObject

    /// Creates a request (the intake makes them; tests of operations may too).
    public init(op: String, id: ByteBuffer, members: JSONObject) {
        self.op = op
        self.id = id
        self.members = members
    }

    /// The members for strict typed reading: `id` and `op` count as known, any other member nobody reads is
    /// an unknown field (``JSONFields/finish()``).
    public var fields: JSONFields {
        JSONFields(members, known: ["id", "op"])
    }
}

/// The answer of an ``IntakeOperation``: the members the connection writes after the request's id, as
/// `{"id":<id>,<members>}\n`. Ops fill ``writer``; the intake writes the braces, the id and the newline.
public struct IntakeReply: Sendable {
    /// The reply's members so far, written at the level of the reply object (no braces).
    public var writer: JSONWriter
    /// The error code when the reply is an error, counted in `stats.intake.errors`.
    public private(set) var errorCode: String?

    /// An empty reply, ready for members.
    public init(capacity: Int = 256) {
        self.writer = JSONWriter(capacity: capacity)
    }

    /// The members written.
    public var members: ByteBuffer { writer.buffer }

    /// `"error":{"code":<code>,"message":<message>[,"field":<field>]}`, the protocol's error shape, in place
    /// of anything written so far.
    public static func error(code: String, message: String, field: String? = nil) -> IntakeReply {
        var reply = IntakeReply(capacity: 48 + code.utf8.count + message.utf8.count)
        reply.writer.beginObject("error")
        reply.writer.string("code", code)
        reply.writer.string("message", message)
        if let field { reply.writer.string("field", field) }
        reply.writer.endObject()
        reply.errorCode = code
        return reply
    }
}

/// A handler for one extension op of the intake protocol, given to the intake server under its op name.
///
/// The connection calls ``handle(_:)`` from a task of its own for every request with that op and writes the
/// returned reply; the request counts as pending until then (a draining connection waits for it). A
/// connection stops reading while its configured number of running ops is reached, and answers
/// `DeadlineExceeded` for one that takes longer than its operation timeout (the late reply is dropped).
///
/// Implementations must not block the calling thread on I/O: move blocking work to a thread pool.
public protocol IntakeOperation: Sendable {
    /// Carries out one request and returns its reply.
    func handle(_ request: IntakeRequest) async -> IntakeReply
}
