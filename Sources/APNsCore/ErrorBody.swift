import NIOCore

/// The fields of an APNs error body, `{"reason": "...", "timestamp": ...}`, which APNs sends with
/// every non-200 response and in the debug data of a GOAWAY frame.
public struct APNsErrorBody: Sendable, Hashable {
    /// The most raw text of a malformed body kept in ``APNsReason/unknown(_:)``, in bytes.
    public static let maxUnknownTextLength = 128

    /// The `reason`, if any.
    public var reason: APNsReason?
    /// The `timestamp` (milliseconds since the epoch; sent with 410), if any.
    public var timestamp: Int64?

    /// Creates a body from its fields.
    public init(reason: APNsReason?, timestamp: Int64?) {
        self.reason = reason
        self.timestamp = timestamp
    }

    /// Reads an error body; never fails.
    ///
    /// - Empty or whitespace-only: no reason, no timestamp.
    /// - A JSON object: `reason` (a string) and `timestamp` (a number, or a string of digits) are
    ///   taken; other keys, any whitespace and key order are ignored.
    /// - Anything else (not JSON, not an object, `reason` not a string, broken after the keys that
    ///   were read): if no reason was read, the reason is the raw text, trimmed and cut to
    ///   ``maxUnknownTextLength`` bytes, through ``APNsReason/init(rawValue:)`` (so a bare
    ///   `Shutdown` still maps to its case; other text becomes ``APNsReason/unknown(_:)``).
    public init(parsing body: ByteBuffer) {
        self = body.withUnsafeReadableBytes { APNsErrorBody.parse($0) }
    }

    static func parse(_ bytes: UnsafeRawBufferPointer) -> APNsErrorBody {
        var body = APNsErrorBody(reason: nil, timestamp: nil)
        var scanner = JSONScanner(bytes)
        scanner.skipWhitespace()
        if scanner.isAtEnd {
            return body
        }
        let wellFormed = body.readObject(&scanner)
        if body.reason == nil && !wellFormed {
            body.reason = APNsReason(rawValue: rawText(bytes))
        }
        return body
    }

    /// Reads the object's members into `self`; returns whether the object was well-formed and
    /// followed by nothing but whitespace.
    private mutating func readObject(_ scanner: inout JSONScanner) -> Bool {
        let bytes = scanner.bytes
        guard scanner.peek == UInt8(ascii: "{") else { return false }
        scanner.index += 1
        scanner.skipWhitespace()
        if scanner.peek == UInt8(ascii: "}") {
            scanner.index += 1
        } else {
            members: while true {
                scanner.skipWhitespace()
                guard scanner.peek == UInt8(ascii: "\"") else { return false }
                let keyStart = scanner.index + 1
                var keyHasEscapes = false
                guard scanner.scanString(hasEscapes: &keyHasEscapes) else { return false }
                let key = UnsafeRawBufferPointer(rebasing: bytes[keyStart..<(scanner.index - 1)])
                scanner.skipWhitespace()
                guard scanner.peek == UInt8(ascii: ":") else { return false }
                scanner.index += 1
                scanner.skipWhitespace()
                let valueStart = scanner.index
                let first = scanner.peek
                guard scanner.scanValue() else { return false }
                let value = UnsafeRawBufferPointer(rebasing: bytes[valueStart..<scanner.index])

                if key.elementsEqual("reason".utf8) {
                    // A reason that is not a string leaves `reason` nil: the body counts as malformed.
                    guard first == UInt8(ascii: "\"") else { return false }
                    self.reason = APNsReason(rawValue: decodeJSONString(value))
                } else if key.elementsEqual("timestamp".utf8) {
                    self.timestamp = parseTimestamp(value, isString: first == UInt8(ascii: "\""))
                }

                scanner.skipWhitespace()
                switch scanner.peek {
                case UInt8(ascii: ","):
                    scanner.index += 1
                case UInt8(ascii: "}"):
                    scanner.index += 1
                    break members
                default:
                    return false
                }
            }
        }
        scanner.skipWhitespace()
        return scanner.isAtEnd
    }
}

/// The body as text for ``APNsReason/unknown(_:)``: whitespace-trimmed, cut to
/// ``APNsErrorBody/maxUnknownTextLength`` bytes, invalid UTF-8 repaired.
private func rawText(_ bytes: UnsafeRawBufferPointer) -> String {
    func isBlank(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r")
            || byte == UInt8(ascii: "\t")
    }
    guard let start = bytes.firstIndex(where: { !isBlank($0) }),
        let last = bytes.lastIndex(where: { !isBlank($0) })
    else { return "" }
    let end = min(last + 1, start + APNsErrorBody.maxUnknownTextLength)
    return String(decoding: bytes[start..<end], as: UTF8.self)
}

/// A timestamp from a JSON number (or a string of digits when `isString`): integers exactly,
/// fractions and exponents through `Double`; `nil` if out of range or not a number.
private func parseTimestamp(_ value: UnsafeRawBufferPointer, isString: Bool) -> Int64? {
    var digits = value[...]
    if isString {
        guard digits.count >= 2 else { return nil }
        digits = digits.dropFirst().dropLast()
    }
    guard !digits.isEmpty else { return nil }
    var negative = false
    if digits.first == UInt8(ascii: "-") {
        negative = true
        digits = digits.dropFirst()
    }
    guard !digits.isEmpty else { return nil }
    if digits.allSatisfy(isDigit) {
        var result: Int64 = 0
        for byte in digits {
            let (shifted, overflow1) = result.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = shifted.addingReportingOverflow(Int64(byte &- UInt8(ascii: "0")))
            guard !overflow1 && !overflow2 else { return nil }
            result = sum
        }
        return negative ? -result : result
    }
    guard !isString, let double = Double(String(decoding: value, as: UTF8.self)), double.isFinite,
        double >= -9.2e18, double <= 9.2e18
    else { return nil }
    return Int64(double)
}

/// Decodes a JSON string token (quotes included, already validated by the scanner).
func decodeJSONString(_ token: UnsafeRawBufferPointer) -> String {
    guard token.count >= 2 else { return "" }
    return APNsJSONScanner.decodeStringContent(UnsafeRawBufferPointer(rebasing: token[1..<(token.count - 1)]))
}

extension APNsJSONScanner {
    /// Decodes the content of a JSON string (without its quotes) that a scanner has already checked: escapes,
    /// `\u` escapes and surrogate pairs become their characters. A malformed escape never traps; it decodes to
    /// U+FFFD or is dropped.
    public static func decodeStringContent(_ content: UnsafeRawBufferPointer) -> String {
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
