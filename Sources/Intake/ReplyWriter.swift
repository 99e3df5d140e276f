import APNs
import APNsCore
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
    ///
    /// Each result is written by ``ResultEncoder`` straight into the buffer's memory (one capacity check per
    /// result), byte for byte what ``JSONWriter/result(_:)`` writes: at a few hundred thousand results a second
    /// the generic writer's dozen checked writes per result cost more than the rest of the reply.
    static func results(
        id: ByteBuffer, into buffer: inout ByteBuffer, _ forEachResult: ((APNsResult) -> Void) -> Void
    ) {
        buffer.writeStaticString("{\"id\":")
        buffer.writeImmutableBuffer(id)
        buffer.writeStaticString(",\"results\":[")
        var first = true
        forEachResult { result in
            ResultEncoder.write(result, afterAnother: !first, into: &buffer)
            first = false
        }
        buffer.writeStaticString("]}\n")
    }

    static func writeID(_ id: ByteBuffer?, into buffer: inout ByteBuffer) {
        if let id {
            buffer.writeImmutableBuffer(id)
        } else {
            buffer.writeStaticString("null")
        }
    }
}

/// Writes one result object into a buffer's memory directly, preceded by a comma when it follows another element:
/// `status`, `reason`, `apnsId` (`requestId` for a broadcast), `timestamp`, `source`, `detail`, `maybeDuplicate`,
/// each only when present (`source` always), strings through ``JSONString``'s escaper.
enum ResultEncoder {
    static func write(_ result: APNsResult, afterAnother: Bool, into buffer: inout ByteBuffer) {
        // The strings at their longest (every byte escaped), and the fixed parts, well under 200 bytes.
        var bound = 200
        if let reason = result.reason { bound += JSONString.maximumLength(of: reason) }
        if let apnsID = result.apnsIdentifier { bound += JSONString.maximumLength(utf8Count: apnsID.utf8Count) }
        if let requestID = result.requestID { bound += JSONString.maximumLength(of: requestID) }
        if let detail = result.detail { bound += JSONString.maximumLength(of: detail) }
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { memory in
            var out = RawOutput(base: memory.baseAddress!)
            if afterAnother { out.byte(UInt8(ascii: ",")) }
            out.byte(UInt8(ascii: "{"))
            out.member("\"status\":", result.status.map(Int64.init))
            out.member("\"reason\":", result.reason)
            out.member("\"apnsId\":", result.apnsIdentifier)
            out.member("\"requestId\":", result.requestID)
            out.member("\"timestamp\":", result.timestamp)
            switch result.source {
            case .apns: out.key("\"source\":\"apns\"")
            case .local: out.key("\"source\":\"local\"")
            case .gateway: out.key("\"source\":\"gateway\"")
            }
            out.member("\"detail\":", result.detail)
            if result.retriedAfterUnknownOutcome { out.key("\"maybeDuplicate\":true") }
            out.byte(UInt8(ascii: "}"))
            return out.count
        }
    }

    /// Bytes written from `base` on; the caller has made room for all of them.
    private struct RawOutput {
        let base: UnsafeMutableRawPointer
        var count = 0
        /// A member was written: the next one needs a comma first.
        var afterMember = false

        mutating func byte(_ value: UInt8) {
            base.storeBytes(of: value, toByteOffset: count, as: UInt8.self)
            count += 1
        }

        /// A member's start (or a whole constant member), after a comma unless it is the first.
        mutating func key(_ text: StaticString) {
            if afterMember { byte(UInt8(ascii: ",")) }
            afterMember = true
            (base + count).copyMemory(from: text.utf8Start, byteCount: text.utf8CodeUnitCount)
            count += text.utf8CodeUnitCount
        }

        /// `key` and the integer, when there is one.
        mutating func member(_ key: StaticString, _ value: Int64?) {
            guard let value else { return }
            self.key(key)
            count += JSONWriter.writeInteger(value, to: base + count)
        }

        /// `key` and the identifier's text, escaped, when there is one.
        mutating func member(_ key: StaticString, _ value: APNsIdentifier?) {
            guard let value else { return }
            self.key(key)
            let destination = base + count
            count += value.withUTF8 { JSONString.write(utf8: $0, to: destination) }
        }

        /// `key` and the string, escaped, when there is one.
        mutating func member(_ key: StaticString, _ value: String?) {
            guard let value else { return }
            self.key(key)
            count += JSONString.write(value, to: base + count)
        }
    }
}
