import NIOCore

/// The kind of a JSON value, from its first byte.
public enum JSONKind: String, Sendable {
    case object, array, string, number, bool, null

    /// The kind with its article, for messages: `"an object"`, `"a string"`.
    public var described: String {
        switch self {
        case .object: return "an object"
        case .array: return "an array"
        case .string: return "a string"
        case .number: return "a number"
        case .bool: return "a boolean"
        case .null: return "null"
        }
    }
}

/// A validating pull reader over one JSON text: the module's one scanner, seen from outside.
///
/// Values a caller needs are read (strings, integers) or located (byte ranges, for JSON that is forwarded as
/// received); everything else is skipped but still checked, so what the reader accepts is valid JSON
/// (RFC 8259). It allocates nothing but the strings it is asked to decode, and never recurses.
///
/// ```swift
/// var reader = JSONReader(bytes)
/// try reader.beginObject()
/// var first = true
/// while let key = try reader.nextMember(&first) {
///     if reader.equals(key, "id") { id = try reader.skipValue() } else { try reader.skipValue() }
/// }
/// try reader.expectEnd()
/// ```
public struct JSONReader {
    var scanner: JSONScanner

    /// A reader at the start of `bytes`, which must outlive it.
    public init(_ bytes: UnsafeRawBufferPointer) {
        self.scanner = JSONScanner(bytes)
    }

    /// The bytes being read.
    public var bytes: UnsafeRawBufferPointer { scanner.bytes }

    /// The offset of the next byte to read.
    public var offset: Int { scanner.index }

    // MARK: Whole documents

    /// Checks that `bytes` hold exactly one JSON object, optionally surrounded by whitespace.
    public static func validateObject(_ bytes: UnsafeRawBufferPointer) throws(JSONSyntaxError) {
        var scanner = JSONScanner(bytes)
        if let failure = scanner.scanObjectDocument() { throw failure.error }
    }

    /// Checks that a buffer's readable bytes hold exactly one JSON object, optionally surrounded by whitespace.
    public static func validateObject(_ buffer: ByteBuffer) throws(JSONSyntaxError) {
        let failure = buffer.withUnsafeReadableBytes { bytes in
            var scanner = JSONScanner(bytes)
            return scanner.scanObjectDocument()
        }
        if let failure { throw failure.error }
    }

    // MARK: Structure

    /// The kind of the next value (after blanks), without consuming it.
    public mutating func peekKind() throws(JSONSyntaxError) -> JSONKind {
        scanner.skipWhitespace()
        guard let byte = scanner.peek else { throw fail(.unexpectedEnd) }
        switch byte {
        case UInt8(ascii: "{"): return .object
        case UInt8(ascii: "["): return .array
        case UInt8(ascii: "\""): return .string
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .bool
        case UInt8(ascii: "n"): return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number
        default: throw fail(.expectedValue)
        }
    }

    /// Consumes the `{` of an object; follow with ``nextMember(_:)``.
    public mutating func beginObject() throws(JSONSyntaxError) {
        try expect(UInt8(ascii: "{"), else: .notAnObject)
    }

    /// Consumes the `[` of an array; follow with ``nextElement(_:)``.
    public mutating func beginArray() throws(JSONSyntaxError) {
        try expect(UInt8(ascii: "["), else: .expectedValue)
    }

    /// The next member's key (the content between its quotes) with the `:` after it consumed, or nil at the
    /// object's `}` (consumed). `first` starts true for each object and is kept by the reader.
    public mutating func nextMember(_ first: inout Bool) throws(JSONSyntaxError) -> JSONStringRange? {
        scanner.skipWhitespace()
        guard let byte = scanner.peek else { throw fail(.unexpectedEnd) }
        if byte == UInt8(ascii: "}") {
            scanner.index += 1
            return nil
        }
        if first {
            first = false
        } else {
            guard byte == UInt8(ascii: ",") else { throw fail(.expectedCommaOrBrace) }
            scanner.index += 1
            scanner.skipWhitespace()
        }
        guard scanner.peek == UInt8(ascii: "\"") else { throw fail(scanner.peek == nil ? .unexpectedEnd : .expectedKey) }
        let key = try scanString()
        try expect(UInt8(ascii: ":"), else: .expectedColon)
        return key
    }

    /// Whether another element follows in an array (the `,` consumed); false at its `]` (consumed). `first`
    /// starts true for each array.
    public mutating func nextElement(_ first: inout Bool) throws(JSONSyntaxError) -> Bool {
        scanner.skipWhitespace()
        guard let byte = scanner.peek else { throw fail(.unexpectedEnd) }
        if byte == UInt8(ascii: "]") {
            scanner.index += 1
            return false
        }
        if first {
            first = false
        } else {
            guard byte == UInt8(ascii: ",") else { throw fail(.expectedCommaOrBracket) }
            scanner.index += 1
        }
        return true
    }

    /// Checks that nothing but whitespace follows.
    public mutating func expectEnd() throws(JSONSyntaxError) {
        scanner.skipWhitespace()
        guard scanner.isAtEnd else { throw fail(.trailingData) }
    }

    // MARK: Values

    /// Checks and skips one value of any kind; returns its byte range.
    @discardableResult
    public mutating func skipValue() throws(JSONSyntaxError) -> Range<Int> {
        scanner.skipWhitespace()
        let start = scanner.index
        guard scanner.scanValue() else { throw scanner.failure!.error }
        return start..<scanner.index
    }

    /// Checks a string (the next value) and returns where its content lies.
    public mutating func scanString() throws(JSONSyntaxError) -> JSONStringRange {
        scanner.skipWhitespace()
        guard scanner.peek == UInt8(ascii: "\"") else { throw fail(scanner.peek == nil ? .unexpectedEnd : .expectedValue) }
        let start = scanner.index + 1
        var hasEscapes = false
        guard scanner.scanString(hasEscapes: &hasEscapes) else { throw scanner.failure!.error }
        return JSONStringRange(content: start..<(scanner.index - 1), hasEscapes: hasEscapes)
    }

    /// Reads a string (the next value) and decodes it.
    public mutating func readString() throws(JSONSyntaxError) -> String {
        string(try scanString())
    }

    /// The text of a string found by this reader.
    public func string(_ range: JSONStringRange) -> String {
        let raw = UnsafeRawBufferPointer(rebasing: bytes[range.content])
        return range.hasEscapes ? JSONString.decode(raw) : String(decoding: raw, as: UTF8.self)
    }

    /// Whether a string without escapes found by this reader is exactly `word`.
    public func equals(_ range: JSONStringRange, _ word: StaticString) -> Bool {
        guard !range.hasEscapes, range.content.count == word.utf8CodeUnitCount else { return false }
        return word.withUTF8Buffer { expected in
            var offset = 0
            let base = range.content.lowerBound
            while offset < expected.count {
                if bytes[base + offset] != expected[offset] { return false }
                offset += 1
            }
            return true
        }
    }

    /// The integer a number's bytes hold, or nil when it has a fraction or an exponent or does not fit.
    public func integer(in range: Range<Int>) -> Int64? {
        JSONNumber.integer(UnsafeRawBufferPointer(rebasing: bytes[range]))
    }

    // MARK: Plumbing

    private mutating func expect(_ byte: UInt8, else problem: JSONProblem) throws(JSONSyntaxError) {
        scanner.skipWhitespace()
        guard let next = scanner.peek else { throw fail(.unexpectedEnd) }
        guard next == byte else { throw fail(problem) }
        scanner.index += 1
    }

    private func fail(_ problem: JSONProblem) -> JSONSyntaxError {
        JSONSyntaxError(offset: scanner.index, problem: problem.message)
    }
}

/// Where a string's content (between its quotes) lies, and whether it has escapes (if not, its bytes are its
/// text).
public struct JSONStringRange: Sendable, Hashable {
    /// The content's byte range.
    public var content: Range<Int>
    /// Whether the content has a `\` escape.
    public var hasEscapes: Bool
}

/// Number helpers shared by the reader and the value views.
public enum JSONNumber {
    /// The integer that the bytes of a JSON number hold, or nil when it has a fraction or an exponent or does not
    /// fit in 64 bits.
    public static func integer(_ bytes: UnsafeRawBufferPointer) -> Int64? {
        var index = 0
        var negative = false
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        guard index < bytes.count else { return nil }
        var value: Int64 = 0
        while index < bytes.count {
            let byte = bytes[index]
            guard isDigit(byte) else { return nil }
            let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = negative
                ? times.subtractingReportingOverflow(Int64(byte &- 0x30))
                : times.addingReportingOverflow(Int64(byte &- 0x30))
            if overflow1 || overflow2 { return nil }
            value = sum
            index += 1
        }
        return value
    }

    /// The value of a JSON number's bytes as a `Double` (nil if not finite).
    public static func double(_ bytes: UnsafeRawBufferPointer) -> Double? {
        guard let value = Double(String(decoding: bytes, as: UTF8.self)), value.isFinite else { return nil }
        return value
    }
}
