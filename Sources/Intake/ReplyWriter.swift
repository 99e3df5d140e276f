import APNs
import IntakeOps
import JSON
import NIOCore

/// The `code` of an error reply.
public enum IntakeErrorCode: String, Sendable, CaseIterable {
    /// The line is not valid JSON.
    case invalidJSON = "InvalidJSON"
    /// The line is longer than the configured maximum; it was skipped up to its newline.
    case lineTooLong = "LineTooLong"
    /// `op` is not one the gateway knows.
    case unknownOp = "UnknownOp"
    /// A required member is missing or has the wrong type.
    case badRequest = "BadRequest"
    /// More notifications in one request than the configured maximum.
    case batchTooLarge = "BatchTooLarge"
    /// The gateway is shutting down and takes no new requests.
    case shuttingDown = "ShuttingDown"
    /// The gateway has as many intake connections as it allows.
    case tooManyConnections = "TooManyConnections"
    /// An extension op did not finish within ``IntakeConfiguration/operationTimeout``.
    case deadlineExceeded = "DeadlineExceeded"
    /// A network connection did not authenticate: no `auth` first line, an unknown token, or no time left.
    case unauthenticated = "Unauthenticated"
    /// The connection's credential lacks the scope the op needs; the connection closes.
    case forbidden = "Forbidden"
    /// An extension op over the credential's rate limit.
    case rateLimited = "RateLimited"
    /// Plain text reached the network intake's TLS port.
    case tlsRequired = "TLSRequired"
}

/// The intake's replies, each written straight into one `ByteBuffer` by the JSON module's writer, ending in `\n`.
enum ReplyWriter {
    /// `{"id":<id>,"error":{"code":"...","message":"..."}}`; `id` is the raw id bytes or `null`.
    static func error(id: ByteBuffer?, code: IntakeErrorCode, message: String, into buffer: inout ByteBuffer) {
        members(id: id, IntakeReply.error(code: code.rawValue, message: message).members, into: &buffer)
    }

    /// `{"id":<id>,"pong":true}`.
    static func pong(id: ByteBuffer, into buffer: inout ByteBuffer) {
        buffer.writeStaticString("{\"id\":")
        buffer.writeImmutableBuffer(id)
        buffer.writeStaticString(",\"pong\":true}\n")
    }

    /// `{"id":<id>,<members>}` for an extension op's reply.
    static func members(id: ByteBuffer?, _ members: ByteBuffer, into buffer: inout ByteBuffer) {
        buffer.writeStaticString("{\"id\":")
        writeID(id, into: &buffer)
        if members.readableBytes > 0 {
            buffer.writeInteger(UInt8(ascii: ","))
            buffer.writeImmutableBuffer(members)
        }
        buffer.writeStaticString("}\n")
    }

    /// `{"id":<id>,"results":[...]}` in input order.
    static func results(id: ByteBuffer, _ results: [APNsResult], into buffer: inout ByteBuffer) {
        Self.results(id: id, into: &buffer) { write in
            for result in results { write(result) }
        }
    }

    /// The reply of a `send` batch, its results given one by one by `forEachResult` (a ``PendingBatch`` hands them
    /// over where they lie, without gathering them in an array first).
    static func results(
        id: ByteBuffer, into buffer: inout ByteBuffer, _ forEachResult: ((APNsResult) -> Void) -> Void
    ) {
        var writer = JSONWriter(members: buffer)
        buffer = ByteBuffer()  // the writer holds the only reference: no copy on its first write
        writer.beginObject()
        writer.raw("id", id)
        writer.beginArray("results")
        forEachResult { result in
            writer.beginObject()
            writer.result(result)
            writer.endObject()
        }
        writer.endArray()
        writer.endObject()
        buffer = writer.buffer
        buffer.writeInteger(UInt8(ascii: "\n"))
    }

    static func writeID(_ id: ByteBuffer?, into buffer: inout ByteBuffer) {
        if let id {
            buffer.writeImmutableBuffer(id)
        } else {
            buffer.writeStaticString("null")
        }
    }
}

extension JSONWriter {
    /// The members of one result: `status`, `reason`, `apnsId` (`requestId` for a broadcast), `timestamp`, `source`,
    /// `detail`, `maybeDuplicate`.
    mutating func result(_ result: APNsResult) {
        if let status = result.status { int("status", status) }
        if let reason = result.reason { string("reason", reason) }
        if let apnsID = result.apnsID { string("apnsId", apnsID) }
        if let requestID = result.requestID { string("requestId", requestID) }
        if let timestamp = result.timestamp { int("timestamp", timestamp) }
        switch result.source {
        case .apns: member(rendered: "\"source\":\"apns\"")
        case .local: member(rendered: "\"source\":\"local\"")
        case .gateway: member(rendered: "\"source\":\"gateway\"")
        }
        if let detail = result.detail { string("detail", detail) }
        if result.retriedAfterUnknownOutcome { bool("maybeDuplicate", true) }
    }
}
