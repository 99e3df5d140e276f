import NIOCore
import CJSONScan

/// The kinds of syntax errors, as a cheap value; the message is built only when reported.
enum JSONProblem: Sendable {
    case notAnObject
    case unexpectedEnd
    case expectedValue
    case expectedKey
    case expectedColon
    case expectedCommaOrBrace
    case expectedCommaOrBracket
    case trailingData
    case controlCharacterInString
    case invalidEscape
    case invalidUnicodeEscape
    case unpairedSurrogate
    case invalidUTF8
    case invalidNumber
    case leadingZero
    case invalidLiteral

    var message: String {
        switch self {
        case .notAnObject: return "top-level value is not an object"
        case .unexpectedEnd: return "unexpected end of input"
        case .expectedValue: return "expected a value"
        case .expectedKey: return "expected a string key"
        case .expectedColon: return "expected ':' after key"
        case .expectedCommaOrBrace: return "expected ',' or '}'"
        case .expectedCommaOrBracket: return "expected ',' or ']'"
        case .trailingData: return "unexpected data after the top-level object"
        case .controlCharacterInString: return "unescaped control character in string"
        case .invalidEscape: return "invalid escape in string"
        case .invalidUnicodeEscape: return "invalid \\u escape in string (needs 4 hex digits)"
        case .unpairedSurrogate: return "unpaired UTF-16 surrogate in a \\u escape (not a character)"
        case .invalidUTF8: return "invalid UTF-8 in string"
        case .invalidNumber: return "invalid number"
        case .leadingZero: return "number with a leading zero"
        case .invalidLiteral: return "invalid literal (expected true, false or null)"
        }
    }
}

/// A scan failure: the problem and the byte offset where it was found.
struct JSONFailure: Sendable {
    var problem: JSONProblem
    var offset: Int

    var error: JSONSyntaxError {
        JSONSyntaxError(offset: self.offset, problem: self.problem.message)
    }
}

/// The validating scanner (RFC 8259) over a byte buffer: the one grammar of the module. ``JSONReader`` is its
/// public face.
///
/// It checks the full grammar: balanced containers, object keys that are strings, `:` and `,` in
/// their places, string escapes (`\\uXXXX` included), control characters and UTF-8 inside
/// strings, number syntax (no leading zeros, digits after `.` and the exponent), the literals.
/// It does not check for duplicate keys. Values are scanned without recursion (nesting deeper than 64
/// levels allocates one word per 64 further levels), so deep nesting cannot overflow the stack.
struct JSONScanner {
    let bytes: UnsafeRawBufferPointer
    var index: Int = 0
    var failure: JSONFailure?

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    var isAtEnd: Bool { self.index >= self.bytes.count }

    /// The current byte, or `nil` at the end.
    var peek: UInt8? { self.index < self.bytes.count ? self.bytes[self.index] : nil }

    /// Records a failure at the current index; returns `false` for use in `return self.fail(...)`.
    mutating func fail(_ problem: JSONProblem) -> Bool {
        self.failure = JSONFailure(problem: problem, offset: self.index)
        return false
    }

    /// Inlined: between two tokens there is usually no whitespace at all, which costs one compare here.
    @inline(__always)
    mutating func skipWhitespace() {
        while self.index < self.bytes.count {
            let byte = self.bytes[self.index]
            // Every byte above the space is not whitespace (the common case, one branch).
            guard byte <= UInt8(ascii: " "),
                byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\t")
            else { return }
            self.index += 1
        }
    }

    /// Scans a whole document that must be one object; returns the failure, if any.
    mutating func scanObjectDocument() -> JSONFailure? {
        self.skipWhitespace()
        guard let first = self.peek else {
            _ = self.fail(.unexpectedEnd)
            return self.failure
        }
        guard first == UInt8(ascii: "{") else {
            _ = self.fail(.notAnObject)
            return self.failure
        }
        guard self.scanValue() else { return self.failure }
        self.skipWhitespace()
        if !self.isAtEnd {
            _ = self.fail(.trailingData)
        }
        return self.failure
    }

    private enum State {
        case value, firstMember, firstElement, key, afterValue
    }

    /// Scans exactly one value (of any type) starting at the current index, after optional
    /// whitespace. Leaves the index just after it.
    mutating func scanValue() -> Bool {
        var stack = ContainerStack()
        var state = State.value
        while true {
            self.skipWhitespace()
            guard self.index < self.bytes.count else { return self.fail(.unexpectedEnd) }
            let byte = self.bytes[self.index]
            switch state {
            case .value:
                switch byte {
                case UInt8(ascii: "{"):
                    self.index += 1
                    stack.push(isObject: true)
                    state = .firstMember
                    continue
                case UInt8(ascii: "["):
                    self.index += 1
                    stack.push(isObject: false)
                    state = .firstElement
                    continue
                case UInt8(ascii: "\""):
                    guard self.scanString() else { return false }
                case UInt8(ascii: "t"):
                    guard self.scanLiteral("true") else { return false }
                case UInt8(ascii: "f"):
                    guard self.scanLiteral("false") else { return false }
                case UInt8(ascii: "n"):
                    guard self.scanLiteral("null") else { return false }
                case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                    guard self.scanNumber() else { return false }
                default:
                    return self.fail(.expectedValue)
                }
                if stack.isEmpty { return true }
                state = .afterValue

            case .firstMember:
                if byte == UInt8(ascii: "}") {
                    self.index += 1
                    stack.pop()
                    if stack.isEmpty { return true }
                    state = .afterValue
                } else {
                    state = .key
                }

            case .firstElement:
                if byte == UInt8(ascii: "]") {
                    self.index += 1
                    stack.pop()
                    if stack.isEmpty { return true }
                    state = .afterValue
                } else {
                    state = .value
                }

            case .key:
                guard byte == UInt8(ascii: "\"") else { return self.fail(.expectedKey) }
                guard self.scanString() else { return false }
                self.skipWhitespace()
                guard self.peek == UInt8(ascii: ":") else { return self.fail(.expectedColon) }
                self.index += 1
                state = .value

            case .afterValue:
                let isObject = stack.topIsObject
                if byte == UInt8(ascii: ",") {
                    self.index += 1
                    state = isObject ? .key : .value
                } else if byte == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                    self.index += 1
                    stack.pop()
                    if stack.isEmpty { return true }
                } else {
                    return self.fail(isObject ? .expectedCommaOrBrace : .expectedCommaOrBracket)
                }
            }
        }
    }

    /// Scans a string starting at its opening quote; leaves the index after the closing quote.
    /// - Returns: whether it is valid; `hasEscapes` tells whether any `\` escape was seen.
    mutating func scanString(hasEscapes: inout Bool) -> Bool {
        let bytes = self.bytes
        let count = bytes.count
        var index = self.index + 1  // after the opening quote
        while true {
            // Skip plain ASCII, sixteen bytes at a time; the run stops at the end or at a byte handled below.
            if index < count {
                index += cjson_plain_prefix(bytes.baseAddress!.assumingMemoryBound(to: UInt8.self) + index, count - index)
            }
            guard index < count else {
                self.index = index
                return self.fail(.unexpectedEnd)
            }
            let byte = bytes[index]
            self.index = index
            switch byte {
            case UInt8(ascii: "\""):
                self.index += 1
                return true
            case UInt8(ascii: "\\"):
                hasEscapes = true
                guard self.scanEscape() else { return false }
            case 0..<0x20:
                return self.fail(.controlCharacterInString)
            default:
                guard self.scanUTF8Sequence(lead: byte) else { return false }
            }
            index = self.index
        }
    }

    mutating func scanString() -> Bool {
        var hasEscapes = false
        return self.scanString(hasEscapes: &hasEscapes)
    }

    /// Scans one escape sequence starting at its backslash.
    private mutating func scanEscape() -> Bool {
        let next = self.index + 1
        guard next < self.bytes.count else {
            self.index = next
            return self.fail(.unexpectedEnd)
        }
        switch self.bytes[next] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
            UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            self.index = next + 1
            return true
        case UInt8(ascii: "u"):
            guard let unit = self.codeUnit(at: next + 1) else { return self.fail(.invalidUnicodeEscape) }
            switch unit {
            case 0xD800...0xDBFF:
                // A high surrogate stands for a character only with a low surrogate escape right after it.
                let low = next + 5
                guard low + 1 < self.bytes.count, self.bytes[low] == UInt8(ascii: "\\"), self.bytes[low + 1] == UInt8(ascii: "u"),
                    let second = self.codeUnit(at: low + 2), (0xDC00...0xDFFF).contains(second)
                else { return self.fail(.unpairedSurrogate) }
                self.index = low + 6
            case 0xDC00...0xDFFF:
                return self.fail(.unpairedSurrogate)
            default:
                self.index = next + 5
            }
            return true
        default:
            return self.fail(.invalidEscape)
        }
    }

    /// The UTF-16 code unit of the four hex digits at `offset`, if they are four hex digits.
    private func codeUnit(at offset: Int) -> UInt16? {
        guard offset + 4 <= self.bytes.count else { return nil }
        var unit: UInt16 = 0
        for position in offset..<(offset + 4) {
            guard let digit = hexValue(self.bytes[position]) else { return nil }
            unit = unit << 4 | UInt16(digit)
        }
        return unit
    }

    /// Validates one multi-byte UTF-8 sequence (RFC 3629: no overlongs, surrogates or values
    /// above U+10FFFF) whose lead byte is at the index.
    private mutating func scanUTF8Sequence(lead: UInt8) -> Bool {
        let length: Int
        var secondRange: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; secondRange = 0xA0...0xBF
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; secondRange = 0x80...0x9F
        case 0xF0: length = 4; secondRange = 0x90...0xBF
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; secondRange = 0x80...0x8F
        default: return self.fail(.invalidUTF8)
        }
        guard self.index + length <= self.bytes.count else { return self.fail(.invalidUTF8) }
        guard secondRange.contains(self.bytes[self.index + 1]) else { return self.fail(.invalidUTF8) }
        var offset = 2
        while offset < length {
            guard (0x80...0xBF).contains(self.bytes[self.index + offset]) else { return self.fail(.invalidUTF8) }
            offset += 1
        }
        self.index += length
        return true
    }

    /// Scans `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    mutating func scanNumber() -> Bool {
        if self.peek == UInt8(ascii: "-") {
            self.index += 1
        }
        guard let first = self.peek, isDigit(first) else { return self.fail(.invalidNumber) }
        self.index += 1
        if first == UInt8(ascii: "0") {
            if let next = self.peek, isDigit(next) { return self.fail(.leadingZero) }
        } else {
            self.skipDigits()
        }
        if self.peek == UInt8(ascii: ".") {
            self.index += 1
            guard let next = self.peek, isDigit(next) else { return self.fail(.invalidNumber) }
            self.skipDigits()
        }
        if self.peek == UInt8(ascii: "e") || self.peek == UInt8(ascii: "E") {
            self.index += 1
            if self.peek == UInt8(ascii: "+") || self.peek == UInt8(ascii: "-") {
                self.index += 1
            }
            guard let next = self.peek, isDigit(next) else { return self.fail(.invalidNumber) }
            self.skipDigits()
        }
        return true
    }

    private mutating func skipDigits() {
        while let byte = self.peek, isDigit(byte) {
            self.index += 1
        }
    }

    private mutating func scanLiteral(_ literal: StaticString) -> Bool {
        let length = literal.utf8CodeUnitCount
        guard self.index + length <= self.bytes.count else { return self.fail(.invalidLiteral) }
        let matches = literal.withUTF8Buffer { expected in
            var offset = 0
            while offset < length {
                if self.bytes[self.index + offset] != expected[offset] { return false }
                offset += 1
            }
            return true
        }
        guard matches else { return self.fail(.invalidLiteral) }
        self.index += length
        return true
    }
}

@inline(__always)
func isDigit(_ byte: UInt8) -> Bool {
    ASCIIByte.isDigit(byte)
}

@inline(__always)
func hexValue(_ byte: UInt8) -> UInt8? {
    ASCIIByte.hexValue(byte)
}

/// Byte classes that JSON and its neighbours (hex device tokens) share.
public enum ASCIIByte {
    /// Whether `byte` is an ASCII decimal digit.
    @inlinable
    public static func isDigit(_ byte: UInt8) -> Bool {
        byte &- UInt8(ascii: "0") < 10
    }

    /// The value of an ASCII hex digit (either case), or `nil`.
    @inlinable
    public static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte &- UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte &- UInt8(ascii: "a") &+ 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte &- UInt8(ascii: "A") &+ 10
        default: return nil
        }
    }
}

/// The kinds of the open containers, one bit each (1 = object), innermost last.
/// The first 64 levels live in one word; deeper levels spill into an array.
struct ContainerStack {
    private var depth = 0
    private var inline: UInt64 = 0
    private var spill: [UInt64] = []
    private(set) var topIsObject = false

    var isEmpty: Bool { self.depth == 0 }

    mutating func push(isObject: Bool) {
        let level = self.depth
        if level < 64 {
            let bit: UInt64 = 1 << UInt64(level)
            self.inline = isObject ? (self.inline | bit) : (self.inline & ~bit)
        } else {
            let word = (level - 64) / 64
            if word == self.spill.count {
                self.spill.append(0)
            }
            let bit: UInt64 = 1 << UInt64((level - 64) % 64)
            self.spill[word] = isObject ? (self.spill[word] | bit) : (self.spill[word] & ~bit)
        }
        self.depth += 1
        self.topIsObject = isObject
    }

    mutating func pop() {
        self.depth -= 1
        guard self.depth > 0 else { return }
        let level = self.depth - 1
        if level < 64 {
            self.topIsObject = (self.inline >> UInt64(level)) & 1 == 1
        } else {
            self.topIsObject = (self.spill[(level - 64) / 64] >> UInt64((level - 64) % 64)) & 1 == 1
        }
    }
}
