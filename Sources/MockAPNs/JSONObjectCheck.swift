/// A fast, allocation-free check that bytes are one well-formed JSON object (RFC 8259), with
/// optional surrounding whitespace. It validates structure, strings (escapes, control characters)
/// and number syntax; it does not build any values. Nesting deeper than ``maximumDepth`` fails.
enum JSONObjectCheck {
    static let maximumDepth = 64

    static func isObject(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var scanner = Scanner(bytes: bytes)
        scanner.skipWhitespace()
        guard scanner.peek() == UInt8(ascii: "{"), scanner.value(depth: 0) else { return false }
        scanner.skipWhitespace()
        return scanner.atEnd
    }

    static func isObject(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { isObject($0) }
    }

    private struct Scanner {
        let bytes: UnsafeRawBufferPointer
        var index = 0

        init(bytes: UnsafeRawBufferPointer) {
            self.bytes = bytes
        }

        var atEnd: Bool { self.index >= self.bytes.count }

        func peek() -> UInt8? {
            self.index < self.bytes.count ? self.bytes[self.index] : nil
        }

        mutating func skipWhitespace() {
            while let byte = self.peek(),
                byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r")
                    || byte == UInt8(ascii: "\t")
            {
                self.index += 1
            }
        }

        mutating func consume(_ byte: UInt8) -> Bool {
            guard self.peek() == byte else { return false }
            self.index += 1
            return true
        }

        mutating func literal(_ text: StaticString) -> Bool {
            let count = text.utf8CodeUnitCount
            guard self.bytes.count - self.index >= count else { return false }
            let start = text.utf8Start
            for offset in 0..<count where self.bytes[self.index + offset] != start[offset] {
                return false
            }
            self.index += count
            return true
        }

        mutating func value(depth: Int) -> Bool {
            guard depth < JSONObjectCheck.maximumDepth else { return false }
            self.skipWhitespace()
            guard let byte = self.peek() else { return false }
            switch byte {
            case UInt8(ascii: "{"): return self.object(depth: depth + 1)
            case UInt8(ascii: "["): return self.array(depth: depth + 1)
            case UInt8(ascii: "\""): return self.string()
            case UInt8(ascii: "t"): return self.literal("true")
            case UInt8(ascii: "f"): return self.literal("false")
            case UInt8(ascii: "n"): return self.literal("null")
            default: return self.number()
            }
        }

        mutating func object(depth: Int) -> Bool {
            self.index += 1  // {
            self.skipWhitespace()
            if self.consume(UInt8(ascii: "}")) { return true }
            while true {
                self.skipWhitespace()
                guard self.peek() == UInt8(ascii: "\""), self.string() else { return false }
                self.skipWhitespace()
                guard self.consume(UInt8(ascii: ":")), self.value(depth: depth) else { return false }
                self.skipWhitespace()
                if self.consume(UInt8(ascii: "}")) { return true }
                guard self.consume(UInt8(ascii: ",")) else { return false }
            }
        }

        mutating func array(depth: Int) -> Bool {
            self.index += 1  // [
            self.skipWhitespace()
            if self.consume(UInt8(ascii: "]")) { return true }
            while true {
                guard self.value(depth: depth) else { return false }
                self.skipWhitespace()
                if self.consume(UInt8(ascii: "]")) { return true }
                guard self.consume(UInt8(ascii: ",")) else { return false }
            }
        }

        mutating func string() -> Bool {
            self.index += 1  // opening quote
            while let byte = self.peek() {
                self.index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return true
                case UInt8(ascii: "\\"):
                    guard let escaped = self.peek() else { return false }
                    self.index += 1
                    switch escaped {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                        UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        continue
                    case UInt8(ascii: "u"):
                        for _ in 0..<4 {
                            guard let hex = self.peek(), hex.isHexDigit else { return false }
                            self.index += 1
                        }
                    default:
                        return false
                    }
                case 0..<0x20:
                    return false
                default:
                    // UTF-8 well-formedness is not checked: APNs rejects such payloads later, not as JSON.
                    continue
                }
            }
            return false
        }

        mutating func number() -> Bool {
            _ = self.consume(UInt8(ascii: "-"))
            guard let first = self.peek(), first.isDigit else { return false }
            self.index += 1
            if first != UInt8(ascii: "0") {
                self.digits()
            }
            if self.consume(UInt8(ascii: ".")) {
                guard let next = self.peek(), next.isDigit else { return false }
                self.digits()
            }
            if self.consume(UInt8(ascii: "e")) || self.consume(UInt8(ascii: "E")) {
                if !self.consume(UInt8(ascii: "+")) { _ = self.consume(UInt8(ascii: "-")) }
                guard let next = self.peek(), next.isDigit else { return false }
                self.digits()
            }
            return true
        }

        mutating func digits() {
            while let byte = self.peek(), byte.isDigit {
                self.index += 1
            }
        }
    }
}

extension UInt8 {
    var isDigit: Bool { self >= UInt8(ascii: "0") && self <= UInt8(ascii: "9") }

    var isHexDigit: Bool {
        self.isDigit || (self >= UInt8(ascii: "a") && self <= UInt8(ascii: "f"))
            || (self >= UInt8(ascii: "A") && self <= UInt8(ascii: "F"))
    }
}
