import APNsCore

/// A syntax error in a request line, at a byte offset.
struct JSONScanError: Error {
    var offset: Int
    var problem: String
}

/// A validating, allocation-free JSON cursor over one line's bytes.
///
/// It walks the bytes once: values the request scanner needs are read (strings, integers) or located
/// (the payload's byte range); everything else is skipped, but still checked for well-formedness, so
/// a line either is valid JSON or gets `InvalidJSON`. Nesting is limited to ``maxDepth``.
struct JSONCursor {
    static let maxDepth = 64

    let bytes: UnsafeRawBufferPointer
    var index: Int

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
        self.index = 0
    }

    var atEnd: Bool { index >= bytes.count }

    func fail(_ problem: String) -> JSONScanError {
        JSONScanError(offset: index, problem: problem)
    }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    /// The next non-blank byte, without consuming it.
    mutating func peek() throws(JSONScanError) -> UInt8 {
        skipWhitespace()
        guard index < bytes.count else { throw fail("unexpected end of line") }
        return bytes[index]
    }

    mutating func expect(_ byte: UInt8) throws(JSONScanError) {
        guard try peek() == byte else {
            throw fail("expected '\(Character(Unicode.Scalar(byte)))'")
        }
        index += 1
    }

    /// Consumes `byte` if it is next (after blanks).
    mutating func consume(_ byte: UInt8) throws(JSONScanError) -> Bool {
        if try peek() == byte {
            index += 1
            return true
        }
        return false
    }

    // MARK: Strings

    /// Reads a string (the cursor at its opening quote) and returns its decoded value.
    mutating func readString() throws(JSONScanError) -> String {
        let (start, end, escaped) = try scanString()
        let raw = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
        if !escaped {
            return String(decoding: raw, as: UTF8.self)
        }
        return APNsJSONScanner.decodeStringContent(raw)
    }

    /// Checks a string and returns the range of its contents (between the quotes) and whether it
    /// contains escapes.
    mutating func scanString() throws(JSONScanError) -> (Int, Int, Bool) {
        guard try peek() == UInt8(ascii: "\"") else { throw fail("expected a string") }
        // APNsCore's string scanner: eight bytes at a time, and it checks UTF-8 and surrogate pairs too.
        do {
            let (end, escaped) = try APNsJSONScanner.scanStringLiteral(bytes, at: index)
            let start = index + 1
            index = end
            return (start, end - 1, escaped)
        } catch {
            index = error.offset
            throw JSONScanError(offset: error.offset, problem: error.problem)
        }
    }

    // MARK: Numbers

    /// Checks a number and returns its range.
    mutating func scanNumber() throws(JSONScanError) -> Range<Int> {
        skipWhitespace()
        let start = index
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count, isDigit(bytes[index]) else { throw fail("bad number") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else { throw fail("bad number") }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else { throw fail("bad number") }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        return start..<index
    }

    /// The integer a number's range holds, or nil when it has a fraction, an exponent or overflows.
    func integer(in range: Range<Int>) -> Int64? {
        var i = range.lowerBound
        var negative = false
        if bytes[i] == UInt8(ascii: "-") {
            negative = true
            i += 1
        }
        var value: Int64 = 0
        while i < range.upperBound {
            let byte = bytes[i]
            guard isDigit(byte) else { return nil }
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times.addingReportingOverflow(Int64(byte - 0x30))
            if o1 || o2 { return nil }
            value = sum
            i += 1
        }
        return negative ? -value : value
    }

    // MARK: Any value

    /// The kind of the next value, from its first byte.
    enum Kind: String {
        case object, array, string, number, bool, null
    }

    mutating func peekKind() throws(JSONScanError) -> Kind {
        switch try peek() {
        case UInt8(ascii: "{"): return .object
        case UInt8(ascii: "["): return .array
        case UInt8(ascii: "\""): return .string
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .bool
        case UInt8(ascii: "n"): return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number
        default: throw fail("unexpected character")
        }
    }

    /// Checks and skips one value of any kind; returns its byte range.
    @discardableResult
    mutating func skipValue(depth: Int = 0) throws(JSONScanError) -> Range<Int> {
        guard depth < Self.maxDepth else { throw fail("nested too deeply") }
        let kind = try peekKind()
        let start = index
        switch kind {
        case .object:
            index += 1
            if try consume(UInt8(ascii: "}")) { return start..<index }
            repeat {
                _ = try scanString()
                try expect(UInt8(ascii: ":"))
                try skipValue(depth: depth + 1)
            } while try consume(UInt8(ascii: ","))
            try expect(UInt8(ascii: "}"))
        case .array:
            index += 1
            if try consume(UInt8(ascii: "]")) { return start..<index }
            repeat {
                try skipValue(depth: depth + 1)
            } while try consume(UInt8(ascii: ","))
            try expect(UInt8(ascii: "]"))
        case .string:
            _ = try scanString()
        case .number:
            _ = try scanNumber()
        case .bool, .null:
            try literal(kind)
        }
        return start..<index
    }

    private mutating func literal(_ kind: Kind) throws(JSONScanError) {
        let words: [StaticString] = kind == .null ? ["null"] : ["true", "false"]
        for word in words where matches(word) {
            index += word.utf8CodeUnitCount
            return
        }
        throw fail("unexpected word")
    }

    private func matches(_ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        let pointer = word.utf8Start
        for k in 0..<count where bytes[index + k] != pointer[k] { return false }
        return true
    }

    /// True when the string at `range` (contents, no escapes) equals `word`.
    func equals(_ start: Int, _ end: Int, _ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard end - start == count else { return false }
        let pointer = word.utf8Start
        for k in 0..<count where bytes[start + k] != pointer[k] { return false }
        return true
    }
}

@inline(__always)
func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

