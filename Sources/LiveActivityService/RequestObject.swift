import Foundation
import LiveActivity
import NIOCore

/// Strict typed access to one request line's members: every read names its field in errors, and
/// ``finish()`` refuses members nobody read (usually a misspelling).
///
/// These requests are few compared with `send`, so decoding them with `JSONSerialization` is fine; raw JSON
/// values (``rawObject(_:)``) come from the line's own bytes.
struct RequestObject {
    let op: String
    private let object: [String: Any]
    private let raw: RawMembers
    private var used: Set<String> = ["id", "op"]

    init(line: ByteBuffer, op: String) throws(LiveActivityServiceError) {
        self.op = op
        let decoded: Any
        do {
            decoded = try JSONSerialization.jsonObject(with: Data(line.readableBytesView), options: [.fragmentsAllowed])
        } catch {
            throw .badRequest("the request is not valid JSON: \(error.localizedDescription)")
        }
        guard let object = decoded as? [String: Any] else { throw .badRequest("a request must be a JSON object") }
        self.object = object
        self.raw = RawMembers(line: line)
    }

    /// For values that are not a whole request (the `values` of a lifecycle request).
    init(object: [String: Any], op: String) {
        self.op = op
        self.object = object
        self.raw = RawMembers(line: ByteBuffer())
    }

    func has(_ name: String) -> Bool {
        if let value = object[name], !(value is NSNull) { return true }
        return false
    }

    mutating func value(_ name: String) -> Any? {
        used.insert(name)
        guard let value = object[name], !(value is NSNull) else { return nil }
        return value
    }

    mutating func string(_ name: String) throws(LiveActivityServiceError) -> String? {
        guard let value = value(name) else { return nil }
        guard let string = value as? String else {
            throw .badRequest("\"\(name)\" must be a string, not \(Self.kind(value))", field: name)
        }
        guard !string.isEmpty else { throw .badRequest("\"\(name)\" must not be empty", field: name) }
        return string
    }

    mutating func requiredString(_ name: String, _ meaning: String) throws(LiveActivityServiceError) -> String {
        guard let string = try string(name) else {
            throw .badRequest("missing \"\(name)\" (\(meaning)) for \(op)", field: name)
        }
        return string
    }

    /// A string used as a registry identifier: at most 256 bytes, no control characters.
    mutating func identifier(_ name: String) throws(LiveActivityServiceError) -> String? {
        guard let value = try string(name) else { return nil }
        try Self.checkIdentifier(value, field: name)
        return value
    }

    mutating func requiredIdentifier(_ name: String, _ meaning: String) throws(LiveActivityServiceError) -> String {
        let value = try requiredString(name, meaning)
        try Self.checkIdentifier(value, field: name)
        return value
    }

    static func checkIdentifier(_ value: String, field: String) throws(LiveActivityServiceError) {
        do {
            try RegistryInput.checkIdentifier(value, field: field)
        } catch {
            if case .badIdentifier(_, let problem) = error {
                throw .badRequest("\"\(field)\" \(problem)", field: field)
            }
            throw .badRequest("\"\(field)\": \(error)", field: field)
        }
    }

    mutating func integer(_ name: String) throws(LiveActivityServiceError) -> Int64? {
        guard let value = value(name) else { return nil }
        guard let number = value as? NSNumber, !isBoolean(value), let integer = Int64(exactly: number.doubleValue) else {
            throw .badRequest("\"\(name)\" must be an integer, not \(Self.kind(value))", field: name)
        }
        return integer
    }

    mutating func number(_ name: String) throws(LiveActivityServiceError) -> Double? {
        guard let value = value(name) else { return nil }
        guard let number = value as? NSNumber, !isBoolean(value), number.doubleValue.isFinite else {
            throw .badRequest("\"\(name)\" must be a number, not \(Self.kind(value))", field: name)
        }
        return number.doubleValue
    }

    mutating func bool(_ name: String) throws(LiveActivityServiceError) -> Bool? {
        guard let value = value(name) else { return nil }
        guard isBoolean(value), let flag = value as? Bool else {
            throw .badRequest("\"\(name)\" must be true or false, not \(Self.kind(value))", field: name)
        }
        return flag
    }

    /// A date as epoch seconds: a non-negative integer, or a string of epoch seconds or ISO-8601.
    mutating func date(_ name: String) throws(LiveActivityServiceError) -> Int64? {
        guard let value = value(name) else { return nil }
        return try Self.date(value, field: name)
    }

    static func date(_ value: Any, field: String) throws(LiveActivityServiceError) -> Int64 {
        let problem = "use epoch seconds (a non-negative integer) or ISO-8601 like 2025-06-05T08:00:00Z"
        if let text = value as? String {
            guard let seconds = LiveActivityDate.parse(text) else {
                throw LiveActivityServiceError(.badDate, "\"\(field)\" \(shown(text)) is not a date: \(problem)", field: field)
            }
            return seconds
        }
        if let number = value as? NSNumber, !isBoolean(value) {
            guard let seconds = Int64(exactly: number.doubleValue), seconds >= 0, seconds <= LiveActivityDate.latest else {
                throw LiveActivityServiceError(.badDate, "\"\(field)\" \(number) is not a date: \(problem)", field: field)
            }
            return seconds
        }
        throw LiveActivityServiceError(.badDate, "\"\(field)\" must be a date, not \(kind(value)): \(problem)", field: field)
    }

    /// A JSON object member as the exact bytes received.
    mutating func rawObject(_ name: String) throws(LiveActivityServiceError) -> ByteBuffer? {
        guard let value = value(name) else { return nil }
        guard let object = value as? [String: Any] else {
            throw .badRequest("\"\(name)\" must be a JSON object, not \(Self.kind(value))", field: name)
        }
        if let bytes = raw.value(of: name) { return bytes }
        // Only when the key was written with escapes: encode the decoded value.
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else {
            throw .badRequest("\"\(name)\" cannot be encoded", field: name)
        }
        return ByteBuffer(bytes: data)
    }

    mutating func object(_ name: String) throws(LiveActivityServiceError) -> [String: Any]? {
        guard let value = value(name) else { return nil }
        guard let object = value as? [String: Any] else {
            throw .badRequest("\"\(name)\" must be a JSON object, not \(Self.kind(value))", field: name)
        }
        return object
    }

    mutating func strings(_ name: String) throws(LiveActivityServiceError) -> [String]? {
        guard let value = value(name) else { return nil }
        guard let list = value as? [Any] else {
            throw .badRequest("\"\(name)\" must be an array of strings, not \(Self.kind(value))", field: name)
        }
        var strings: [String] = []
        strings.reserveCapacity(list.count)
        for (index, element) in list.enumerated() {
            guard let string = element as? String, !string.isEmpty else {
                throw .badRequest("\"\(name)\"[\(index)] must be a non-empty string, not \(Self.kind(element))", field: name)
            }
            strings.append(string)
        }
        return strings
    }

    /// Refuses the first member nobody read.
    func finish() throws(LiveActivityServiceError) {
        if let unknown = object.keys.sorted().first(where: { !used.contains($0) }) {
            throw .badRequest("unknown field \(Self.shown(unknown)) for \(op) (check its spelling)", field: unknown)
        }
    }

    static func kind(_ value: Any) -> String {
        if value is NSNull { return "null" }
        if isBoolean(value) { return "a boolean" }
        if value is String { return "a string" }
        if value is NSNumber { return "a number" }
        if value is [Any] { return "an array" }
        if value is [String: Any] { return "an object" }
        return "\(type(of: value))"
    }

    /// A value for a message: quoted, cut after 64 characters.
    static func shown(_ text: String) -> String {
        let cut = text.count > 64 ? String(text.prefix(64)) + "…" : text
        return "\"" + cut.map { $0.isASCII && ($0.asciiValue! < 0x20 || $0.asciiValue! == 0x7F) ? "?" : String($0) }.joined() + "\""
    }
}

/// True for JSON `true`/`false` (Foundation hands them out as a boolean NSNumber, which also casts to Bool when
/// the number is 0 or 1).
func isBoolean(_ value: Any) -> Bool {
    let name = String(describing: type(of: value))
    return value is Bool && (name == "Bool" || name.contains("Boolean"))
}
