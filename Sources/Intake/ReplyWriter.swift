import APNs
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
}

/// Hand-written JSON output: each reply is encoded straight into one `ByteBuffer`, ending in `\n`.
public enum ReplyWriter {
    /// `{"id":<id>,"error":{"code":"...","message":"..."}}`; `id` is the raw id bytes or `null`.
    static func error(id: ByteBuffer?, code: IntakeErrorCode, message: String, into buffer: inout ByteBuffer) {
        buffer.writeStaticString("{\"id\":")
        writeID(id, into: &buffer)
        buffer.writeStaticString(",\"error\":{\"code\":\"")
        buffer.writeString(code.rawValue)
        buffer.writeStaticString("\",\"message\":")
        writeString(message, into: &buffer)
        buffer.writeStaticString("}}\n")
    }

    /// `{"id":<id>,"pong":true}`.
    static func pong(id: ByteBuffer, into buffer: inout ByteBuffer) {
        buffer.writeStaticString("{\"id\":")
        writeID(id, into: &buffer)
        buffer.writeStaticString(",\"pong\":true}\n")
    }

    /// `{"id":<id>,<members>}` for an extension op's reply.
    static func members(id: ByteBuffer, _ members: ByteBuffer, into buffer: inout ByteBuffer) {
        buffer.writeStaticString("{\"id\":")
        writeID(id, into: &buffer)
        if members.readableBytes > 0 {
            var members = members
            buffer.writeInteger(UInt8(ascii: ","))
            buffer.writeBuffer(&members)
        }
        buffer.writeStaticString("}\n")
    }

    /// `{"id":<id>,"results":[...]}` in input order.
    static func results(id: ByteBuffer, _ results: [APNsResult], into buffer: inout ByteBuffer) {
        buffer.writeStaticString("{\"id\":")
        writeID(id, into: &buffer)
        buffer.writeStaticString(",\"results\":[")
        var first = true
        for result in results {
            if !first { buffer.writeInteger(UInt8(ascii: ",")) }
            first = false
            writeResult(result, into: &buffer)
        }
        buffer.writeStaticString("]}\n")
    }

    static func writeResult(_ result: APNsResult, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "{"))
        var needsComma = false
        func key(_ name: StaticString) {
            if needsComma { buffer.writeInteger(UInt8(ascii: ",")) }
            needsComma = true
            buffer.writeInteger(UInt8(ascii: "\""))
            buffer.writeStaticString(name)
            buffer.writeStaticString("\":")
        }
        if let status = result.status {
            key("status")
            writeInteger(Int64(status), into: &buffer)
        }
        if let reason = result.reason {
            key("reason")
            writeString(reason, into: &buffer)
        }
        if let apnsID = result.apnsID {
            key("apnsId")
            writeString(apnsID, into: &buffer)
        }
        if let timestamp = result.timestamp {
            key("timestamp")
            writeInteger(timestamp, into: &buffer)
        }
        key("source")
        switch result.source {
        case .apns: buffer.writeStaticString("\"apns\"")
        case .local: buffer.writeStaticString("\"local\"")
        case .gateway: buffer.writeStaticString("\"gateway\"")
        }
        if let detail = result.detail {
            key("detail")
            writeString(detail, into: &buffer)
        }
        if result.retriedAfterUnknownOutcome {
            key("maybeDuplicate")
            buffer.writeStaticString("true")
        }
        buffer.writeInteger(UInt8(ascii: "}"))
    }

    static func writeID(_ id: ByteBuffer?, into buffer: inout ByteBuffer) {
        if var id {
            buffer.writeBuffer(&id)
        } else {
            buffer.writeStaticString("null")
        }
    }

    static func writeInteger(_ value: Int64, into buffer: inout ByteBuffer) {
        buffer.writeString(String(value))
    }

    /// A JSON string with the escapes JSON requires. Public for the replies of extension operations.
    public static func writeString(_ string: String, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "\""))
        let needsEscape = string.utf8.contains { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }
        if !needsEscape {
            buffer.writeString(string)
        } else {
            for byte in string.utf8 {
                switch byte {
                case UInt8(ascii: "\""): buffer.writeStaticString("\\\"")
                case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
                case 0x0A: buffer.writeStaticString("\\n")
                case 0x0D: buffer.writeStaticString("\\r")
                case 0x09: buffer.writeStaticString("\\t")
                case 0..<0x20:
                    let hex: [UInt8] = Array("0123456789abcdef".utf8)
                    buffer.writeStaticString("\\u00")
                    buffer.writeInteger(hex[Int(byte >> 4)])
                    buffer.writeInteger(hex[Int(byte & 15)])
                default: buffer.writeInteger(byte)
                }
            }
        }
        buffer.writeInteger(UInt8(ascii: "\""))
    }
}

/// A small streaming JSON object writer for the `stats` reply (not on the hot path).
struct JSONObjectWriter {
    var buffer: ByteBuffer
    private var needsComma: [Bool] = [false]

    init(buffer: ByteBuffer) {
        self.buffer = buffer
    }

    private mutating func key(_ name: String) {
        if needsComma[needsComma.count - 1] { buffer.writeInteger(UInt8(ascii: ",")) }
        needsComma[needsComma.count - 1] = true
        ReplyWriter.writeString(name, into: &buffer)
        buffer.writeInteger(UInt8(ascii: ":"))
    }

    mutating func begin(_ name: String? = nil) {
        if let name { key(name) }
        buffer.writeInteger(UInt8(ascii: "{"))
        needsComma.append(false)
    }

    mutating func end() {
        needsComma.removeLast()
        buffer.writeInteger(UInt8(ascii: "}"))
    }

    mutating func field(_ name: String, _ value: Int) {
        key(name)
        ReplyWriter.writeInteger(Int64(value), into: &buffer)
    }

    mutating func field(_ name: String, _ value: String) {
        key(name)
        ReplyWriter.writeString(value, into: &buffer)
    }

    mutating func field(_ name: String, _ value: Double) {
        key(name)
        buffer.writeString(value.isFinite ? "\(value)" : "0")
    }

    mutating func field(_ name: String, _ values: [Int]) {
        key(name)
        buffer.writeInteger(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { buffer.writeInteger(UInt8(ascii: ",")) }
            ReplyWriter.writeInteger(Int64(value), into: &buffer)
        }
        buffer.writeInteger(UInt8(ascii: "]"))
    }

    mutating func raw(_ name: String, _ id: ByteBuffer) {
        key(name)
        ReplyWriter.writeID(id, into: &buffer)
    }
}
