/// The Live Activity payload rule the mock enforces, like APNs: an end push carries the final
/// `content-state` (apns-provider-api.md §5: "send the final `content-state` with `end`"). Written on
/// its own, apart from the gateway's payload builder.
///
/// It reads a body already known to be one well-formed JSON object (``JSONObjectCheck``) without
/// building values: the top-level `aps` object, its `event` and whether it has a non-null
/// `content-state` (the last of a repeated member counts, as with most JSON decoders). Keys and the
/// event are compared as written; a key on the way to them, or an event value, that uses escapes
/// leaves the payload unjudged (accepted), so that the mock never refuses what APNs might take.
enum LiveActivityPayloadCheck {
    /// Whether `bytes` (one well-formed JSON object) has `"aps":{"event":"end",...}` without a
    /// `content-state`, or with `"content-state":null`.
    static func isEndWithoutContentState(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var reader = Reader(bytes: bytes)
        guard let aps = reader.apsMembers() else { return false }
        return aps.event == .end && !aps.hasContentState
    }

    static func isEndWithoutContentState(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { isEndWithoutContentState($0) }
    }

    private enum Event {
        case end
        case other
    }

    private struct APSMembers {
        var event: Event?
        var hasContentState = false
    }

    /// Walks well-formed JSON; stops (returning `nil`) at anything it does not expect.
    private struct Reader {
        let bytes: UnsafeRawBufferPointer
        var index = 0

        init(bytes: UnsafeRawBufferPointer) {
            self.bytes = bytes
        }

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
            self.skipWhitespace()
            guard self.peek() == byte else { return false }
            self.index += 1
            return true
        }

        /// The `aps` object's members of interest, or `nil` when there is no `aps` object or the walk
        /// met escapes in it.
        mutating func apsMembers() -> APSMembers? {
            guard self.consume(UInt8(ascii: "{")) else { return nil }
            var aps: APSMembers?
            var first = true
            while !self.consume(UInt8(ascii: "}")) {
                if !first { guard self.consume(UInt8(ascii: ",")) else { return nil } }
                first = false
                guard let key = self.string(), self.consume(UInt8(ascii: ":")) else { return nil }
                self.skipWhitespace()
                if self.equals(key, "aps") && self.peek() == UInt8(ascii: "{") {
                    guard let members = self.members() else { return nil }
                    aps = members
                } else {
                    guard self.skipValue() else { return nil }
                }
            }
            return aps
        }

        /// The members of the object at the reader (`event`, `content-state`).
        private mutating func members() -> APSMembers? {
            guard self.consume(UInt8(ascii: "{")) else { return nil }
            var members = APSMembers()
            var first = true
            while !self.consume(UInt8(ascii: "}")) {
                if !first { guard self.consume(UInt8(ascii: ",")) else { return nil } }
                first = false
                guard let key = self.string(), self.consume(UInt8(ascii: ":")) else { return nil }
                self.skipWhitespace()
                let start = self.index
                guard self.skipValue() else { return nil }
                let value = start..<self.index
                if self.equals(key, "event") {
                    guard self.bytes[value.lowerBound] == UInt8(ascii: "\"") else {
                        members.event = .other
                        continue
                    }
                    let text = (value.lowerBound + 1)..<(value.upperBound - 1)
                    guard !self.bytes[text].contains(UInt8(ascii: "\\")) else { return nil }
                    members.event = self.equals(text, "end") ? .end : .other
                } else if self.equals(key, "content-state") {
                    members.hasContentState = !self.equals(value, "null")
                }
            }
            return members
        }

        /// The range of a string's contents (between the quotes), or `nil` when it has escapes or the
        /// reader is not at a string.
        private mutating func string() -> Range<Int>? {
            guard self.consume(UInt8(ascii: "\"")) else { return nil }
            let start = self.index
            while let byte = self.peek(), byte != UInt8(ascii: "\"") {
                if byte == UInt8(ascii: "\\") { return nil }
                self.index += 1
            }
            guard self.peek() == UInt8(ascii: "\"") else { return nil }
            self.index += 1
            return start..<(self.index - 1)
        }

        /// Skips one value (the JSON is well-formed: only strings and nesting need care).
        private mutating func skipValue() -> Bool {
            self.skipWhitespace()
            guard let byte = self.peek() else { return false }
            switch byte {
            case UInt8(ascii: "\""):
                return self.skipString()
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                var depth = 0
                while let byte = self.peek() {
                    switch byte {
                    case UInt8(ascii: "\""):
                        guard self.skipString() else { return false }
                        continue
                    case UInt8(ascii: "{"), UInt8(ascii: "["):
                        depth += 1
                    case UInt8(ascii: "}"), UInt8(ascii: "]"):
                        depth -= 1
                    default:
                        break
                    }
                    self.index += 1
                    if depth == 0 { return true }
                }
                return false
            default:
                // A number, true, false or null: up to the next delimiter.
                while let byte = self.peek(), byte != UInt8(ascii: ","), byte != UInt8(ascii: "}"),
                    byte != UInt8(ascii: "]"), byte != UInt8(ascii: " "), byte != UInt8(ascii: "\n"),
                    byte != UInt8(ascii: "\r"), byte != UInt8(ascii: "\t")
                {
                    self.index += 1
                }
                return true
            }
        }

        private mutating func skipString() -> Bool {
            self.index += 1  // "
            while let byte = self.peek() {
                self.index += 1
                if byte == UInt8(ascii: "\\") {
                    self.index += 1
                } else if byte == UInt8(ascii: "\"") {
                    return true
                }
            }
            return false
        }

        private func equals(_ range: Range<Int>, _ text: StaticString) -> Bool {
            guard range.count == text.utf8CodeUnitCount else { return false }
            let start = text.utf8Start
            for offset in 0..<range.count where self.bytes[range.lowerBound + offset] != start[offset] {
                return false
            }
            return true
        }
    }
}
