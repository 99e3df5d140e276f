import NIOCore

/// Hand-written JSON output into a `ByteBuffer`: strings escaped per RFC 8259, integers in
/// decimal. Nothing is decoded or re-encoded; raw JSON given by callers is copied as it is.
enum JSONOutput {
    /// Writes `string` as a JSON string literal: `"`, `\` and control characters are escaped
    /// (`\n`, `\r`, `\t`, `\b`, `\f`, others as `\u00XX`); everything else, UTF-8 included, is
    /// copied unchanged.
    static func writeString(_ string: String, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { bytes in
            var runStart = 0
            var index = 0
            while index < bytes.count {
                let byte = bytes[index]
                if byte >= 0x20 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") {
                    index += 1
                    continue
                }
                if runStart < index {
                    buffer.writeBytes(UnsafeBufferPointer(rebasing: bytes[runStart..<index]))
                }
                writeEscape(byte, into: &buffer)
                index += 1
                runStart = index
            }
            if runStart < bytes.count {
                buffer.writeBytes(UnsafeBufferPointer(rebasing: bytes[runStart..<bytes.count]))
            }
        }
        buffer.writeInteger(UInt8(ascii: "\""))
    }

    private static func writeEscape(_ byte: UInt8, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "\\"))
        switch byte {
        case UInt8(ascii: "\""): buffer.writeInteger(UInt8(ascii: "\""))
        case UInt8(ascii: "\\"): buffer.writeInteger(UInt8(ascii: "\\"))
        case UInt8(ascii: "\n"): buffer.writeInteger(UInt8(ascii: "n"))
        case UInt8(ascii: "\r"): buffer.writeInteger(UInt8(ascii: "r"))
        case UInt8(ascii: "\t"): buffer.writeInteger(UInt8(ascii: "t"))
        case 0x08: buffer.writeInteger(UInt8(ascii: "b"))
        case 0x0C: buffer.writeInteger(UInt8(ascii: "f"))
        default:
            let hex: StaticString = "0123456789abcdef"
            buffer.writeStaticString("u00")
            hex.withUTF8Buffer { digits in
                buffer.writeInteger(digits[Int(byte >> 4)])
                buffer.writeInteger(digits[Int(byte & 0x0F)])
            }
        }
    }

    /// Writes `value` in decimal.
    static func writeInteger(_ value: Int64, into buffer: inout ByteBuffer) {
        buffer.writeString(String(value))
    }

    /// Writes `key` (a constant that needs no escaping) as `"key":`, preceded by a comma unless it
    /// is the first member.
    static func writeKey(_ key: StaticString, first: inout Bool, into buffer: inout ByteBuffer) {
        if !first {
            buffer.writeInteger(UInt8(ascii: ","))
        }
        first = false
        buffer.writeInteger(UInt8(ascii: "\""))
        buffer.writeStaticString(key)
        buffer.writeStaticString("\":")
    }

    /// The readable bytes of `buffer` without leading and trailing JSON whitespace.
    static func trimmingWhitespace(_ buffer: ByteBuffer) -> ByteBuffer {
        var slice = buffer
        while let byte = slice.getInteger(at: slice.readerIndex, as: UInt8.self), isWhitespace(byte) {
            slice.moveReaderIndex(forwardBy: 1)
        }
        while slice.readableBytes > 0,
              let byte = slice.getInteger(at: slice.writerIndex - 1, as: UInt8.self), isWhitespace(byte) {
            slice.moveWriterIndex(to: slice.writerIndex - 1)
        }
        return slice
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r")
            || byte == UInt8(ascii: "\t")
    }
}
