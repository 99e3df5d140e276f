import NIOCore

/// JSON string literals: decoding a scanned string's content, and writing a string with the escapes JSON
/// requires. The one escaper of the project: every reply and payload the gateway writes goes through it.
public enum JSONString {
    /// Writes `string` as a JSON string literal: `"`, `\` and control characters are escaped (`\n`, `\r`,
    /// `\t`, `\b`, `\f`, others as `\u00XX`); everything else, UTF-8 included, is copied unchanged.
    public static func write(_ string: String, into buffer: inout ByteBuffer) {
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: maximumLength(of: string)) { memory in
            write(string, to: memory.baseAddress!)
        }
    }

    /// The most bytes ``write(_:to:)`` writes for `string`: its quotes and 6 bytes per byte (`\u00XX`).
    @inline(__always)
    public static func maximumLength(of string: String) -> Int {
        maximumLength(utf8Count: string.utf8.count)
    }

    /// The most bytes a string of `utf8Count` UTF-8 bytes takes written (see ``maximumLength(of:)``).
    @inline(__always)
    public static func maximumLength(utf8Count: Int) -> Int {
        6 * utf8Count + 2
    }

    /// Writes `string` as a JSON string literal (the escapes of ``write(_:into:)``) at `destination`, which has
    /// room for ``maximumLength(of:)`` bytes; returns the bytes written. Runs without escapes are copied whole.
    public static func write(_ string: String, to destination: UnsafeMutableRawPointer) -> Int {
        var string = string
        return string.withUTF8 { write(utf8: UnsafeRawBufferPointer($0), to: destination) }
    }

    /// ``write(_:to:)`` for text given as its UTF-8 bytes; `destination` has room for
    /// ``maximumLength(utf8Count:)`` bytes.
    public static func write(utf8 text: UnsafeRawBufferPointer, to destination: UnsafeMutableRawPointer) -> Int {
        var count = 0
        destination.storeBytes(of: UInt8(ascii: "\""), as: UInt8.self)
        count = 1
        do {
            let bytes = text
            var runStart = 0
            var index = 0
            while index < bytes.count {
                let byte = bytes[index]
                if byte >= 0x20 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") {
                    index += 1
                    continue
                }
                if runStart < index {
                    (destination + count).copyMemory(from: bytes.baseAddress! + runStart, byteCount: index - runStart)
                    count += index - runStart
                }
                count += writeEscape(byte, to: destination + count)
                index += 1
                runStart = index
            }
            if runStart < bytes.count {
                (destination + count).copyMemory(from: bytes.baseAddress! + runStart, byteCount: bytes.count - runStart)
                count += bytes.count - runStart
            }
        }
        (destination + count).storeBytes(of: UInt8(ascii: "\""), as: UInt8.self)
        return count + 1
    }

    /// Writes the escape of `byte` (2 or 6 bytes) at `destination`; returns its length.
    private static func writeEscape(_ byte: UInt8, to destination: UnsafeMutableRawPointer) -> Int {
        let letter: UInt8
        switch byte {
        case UInt8(ascii: "\""): letter = UInt8(ascii: "\"")
        case UInt8(ascii: "\\"): letter = UInt8(ascii: "\\")
        case UInt8(ascii: "\n"): letter = UInt8(ascii: "n")
        case UInt8(ascii: "\r"): letter = UInt8(ascii: "r")
        case UInt8(ascii: "\t"): letter = UInt8(ascii: "t")
        case 0x08: letter = UInt8(ascii: "b")
        case 0x0C: letter = UInt8(ascii: "f")
        default:
            let hex: StaticString = "0123456789abcdef"
            let prefix: StaticString = "\\u00"
            destination.copyMemory(from: prefix.utf8Start, byteCount: 4)
            destination.storeBytes(of: hex.utf8Start[Int(byte >> 4)], toByteOffset: 4, as: UInt8.self)
            destination.storeBytes(of: hex.utf8Start[Int(byte & 0x0F)], toByteOffset: 5, as: UInt8.self)
            return 6
        }
        destination.storeBytes(of: UInt8(ascii: "\\"), as: UInt8.self)
        destination.storeBytes(of: letter, toByteOffset: 1, as: UInt8.self)
        return 2
    }

    /// Decodes the content of a JSON string (without its quotes) that the scanner has already checked: escapes,
    /// `\u` escapes and surrogate pairs become their characters. A malformed escape never traps; it decodes to
    /// U+FFFD or is dropped.
    public static func decode(_ content: UnsafeRawBufferPointer) -> String {
        guard content.contains(UInt8(ascii: "\\")) else {
            return String(decoding: content, as: UTF8.self)
        }
        var scalars = String.UnicodeScalarView()
        var utf8: [UInt8] = []
        var index = 0
        func flush() {
            if !utf8.isEmpty {
                scalars.append(contentsOf: String(decoding: utf8, as: UTF8.self).unicodeScalars)
                utf8.removeAll(keepingCapacity: true)
            }
        }
        func hex4(at offset: Int) -> UInt32? {
            guard offset + 4 <= content.count else { return nil }
            var value: UInt32 = 0
            for byte in content[offset..<(offset + 4)] {
                guard let digit = hexValue(byte) else { return nil }
                value = value << 4 | UInt32(digit)
            }
            return value
        }
        while index < content.count {
            let byte = content[index]
            guard byte == UInt8(ascii: "\\"), index + 1 < content.count else {
                utf8.append(byte)
                index += 1
                continue
            }
            let escaped = content[index + 1]
            index += 2
            switch escaped {
            case UInt8(ascii: "b"): utf8.append(0x08)
            case UInt8(ascii: "f"): utf8.append(0x0C)
            case UInt8(ascii: "n"): utf8.append(0x0A)
            case UInt8(ascii: "r"): utf8.append(0x0D)
            case UInt8(ascii: "t"): utf8.append(0x09)
            case UInt8(ascii: "u"):
                flush()
                guard let unit = hex4(at: index) else { break }
                index += 4
                var scalar = Unicode.Scalar(unit)
                if (0xD800...0xDBFF).contains(unit), index + 6 <= content.count,
                    content[index] == UInt8(ascii: "\\"), content[index + 1] == UInt8(ascii: "u"),
                    let low = hex4(at: index + 2), (0xDC00...0xDFFF).contains(low)
                {
                    scalar = Unicode.Scalar(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
                    index += 6
                }
                scalars.append(scalar ?? "\u{FFFD}")
            default: utf8.append(escaped)  // \" \\ \/
            }
        }
        flush()
        return String(scalars)
    }
}

extension ByteBuffer {
    /// The readable bytes without leading and trailing JSON whitespace (a raw value received with blanks around
    /// it, to be stored or copied into another document).
    public func trimmingJSONWhitespace() -> ByteBuffer {
        func isWhitespace(_ byte: UInt8) -> Bool {
            byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\t")
        }
        var slice = self
        while let byte = slice.getInteger(at: slice.readerIndex, as: UInt8.self), isWhitespace(byte) {
            slice.moveReaderIndex(forwardBy: 1)
        }
        while slice.readableBytes > 0, let byte = slice.getInteger(at: slice.writerIndex - 1, as: UInt8.self),
            isWhitespace(byte)
        {
            slice.moveWriterIndex(to: slice.writerIndex - 1)
        }
        return slice
    }
}
