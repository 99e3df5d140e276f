import NIOCore

/// The byte ranges of a JSON object's top-level member values, so that caller JSON (`contentState`,
/// `attributes`) is forwarded as the exact bytes received instead of being decoded and re-encoded.
///
/// The intake has already checked that the line is valid JSON, so this walk only tracks strings and nesting.
/// Keys written with escapes are not recorded (``value(of:)`` then returns nil and callers fall back to
/// encoding the decoded value). A repeated key keeps its last value, as the decoder does.
struct RawMembers {
    private var ranges: [String: Range<Int>] = [:]
    private let line: ByteBuffer

    init(line: ByteBuffer) {
        self.line = line
        ranges = line.withUnsafeReadableBytes { Self.locate($0) }
    }

    /// The value's bytes exactly as in the line.
    func value(of key: String) -> ByteBuffer? {
        guard let range = ranges[key] else { return nil }
        return line.getSlice(at: line.readerIndex + range.lowerBound, length: range.count)
    }

    private static func locate(_ bytes: UnsafeRawBufferPointer) -> [String: Range<Int>] {
        var result: [String: Range<Int>] = [:]
        var index = 0
        func skipBlanks() {
            while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
        }
        /// Skips a string starting at its opening quote; returns whether it had escapes.
        func skipString() -> Bool {
            var escaped = false
            index += 1
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\\") {
                    escaped = true
                    index += 2
                    continue
                }
                index += 1
                if byte == UInt8(ascii: "\"") { break }
            }
            return escaped
        }
        func skipValue() {
            skipBlanks()
            guard index < bytes.count else { return }
            switch bytes[index] {
            case UInt8(ascii: "\""):
                _ = skipString()
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                var depth = 0
                while index < bytes.count {
                    let byte = bytes[index]
                    if byte == UInt8(ascii: "\"") {
                        _ = skipString()
                        continue
                    }
                    index += 1
                    if byte == UInt8(ascii: "{") || byte == UInt8(ascii: "[") {
                        depth += 1
                    } else if byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]") {
                        depth -= 1
                        if depth == 0 { return }
                    }
                }
            default:
                while index < bytes.count {
                    let byte = bytes[index]
                    if byte == UInt8(ascii: ",") || byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]")
                        || [0x20, 0x09, 0x0A, 0x0D].contains(byte)
                    {
                        return
                    }
                    index += 1
                }
            }
        }

        skipBlanks()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else { return result }
        index += 1
        while true {
            skipBlanks()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return result }
            let keyStart = index + 1
            let escaped = skipString()
            let keyEnd = index - 1
            skipBlanks()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return result }
            index += 1
            skipBlanks()
            let valueStart = index
            skipValue()
            if !escaped, keyEnd >= keyStart {
                let key = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[keyStart..<keyEnd]), as: UTF8.self)
                result[key] = valueStart..<index
            }
            skipBlanks()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ",") else { return result }
            index += 1
        }
    }
}
