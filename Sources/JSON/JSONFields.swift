import NIOCore

/// A member that is missing, of the wrong kind or unknown: what ``JSONFields`` reports. Callers turn it into
/// their own error (a request's `BadRequest`, a configuration's key error).
public struct JSONFieldError: Error, Sendable, CustomStringConvertible {
    /// What is wrong.
    public enum Problem: Sendable, Equatable {
        /// The member has the wrong kind; `expected` reads "a string", "an integer", …
        case wrongKind(expected: String, found: JSONKind)
        /// A string member is empty.
        case empty
        /// An element of an array member is wrong: its index and what it should be.
        case badElement(index: Int, expected: String, found: JSONKind)
        /// A member nobody asked for (usually a misspelling).
        case unknown
    }

    /// The member's name.
    public var field: String
    /// The member's path from the outermost object: `apps[0].keyPath`.
    public var path: String
    /// What is wrong.
    public var problem: Problem

    /// The problem as words after the member's name: `must be a string, not a number`.
    public var explanation: String {
        switch problem {
        case .wrongKind(let expected, let found): return "must be \(expected), not \(found.described)"
        case .empty: return "must not be empty"
        case .badElement(let index, let expected, let found): return "[\(index)] must be \(expected), not \(found.described)"
        case .unknown: return "is not a known field (check its spelling)"
        }
    }

    /// `"<path>" <explanation>`.
    public var description: String { "\"\(path)\" \(explanation)" }
}

/// Strict typed access to an object's members: each read names the member in its error, null counts as
/// absent, and ``finish()`` refuses a member nobody read. The one place where unknown fields are found, for
/// requests and for the configuration alike.
public struct JSONFields: Sendable {
    /// The members.
    public let object: JSONObject
    /// The path of this object from the outermost one (empty at the top).
    public let path: String
    private var used: Set<String>

    /// Reads `object`; members in `known` are never reported as unknown (the request's `id` and `op`).
    public init(_ object: JSONObject, path: String = "", known: Set<String> = []) {
        self.object = object
        self.path = path
        self.used = known
    }

    /// The path of a member of this object.
    public func path(of name: String) -> String { path.isEmpty ? name : "\(path).\(name)" }

    /// Whether the member is present and not null (does not count as reading it).
    public func has(_ name: String) -> Bool {
        guard let value = object[name] else { return false }
        return value.kind != .null
    }

    /// The member's value, null as nil; marks it read.
    public mutating func value(_ name: String) -> JSONValue? {
        used.insert(name)
        guard let value = object[name], value.kind != .null else { return nil }
        return value
    }

    /// A non-empty string.
    public mutating func string(_ name: String) throws(JSONFieldError) -> String? {
        guard let value = value(name) else { return nil }
        guard let string = value.string else { throw wrong(name, "a string", value) }
        guard !string.isEmpty else { throw JSONFieldError(field: name, path: path(of: name), problem: .empty) }
        return string
    }

    /// An integer (a number without fraction or exponent that fits in 64 bits).
    public mutating func integer(_ name: String) throws(JSONFieldError) -> Int64? {
        guard let value = value(name) else { return nil }
        if let integer = value.integer { return integer }
        // 1.0 and 1e3 are integers too, as JSON decoders see them.
        if let double = value.double, let integer = Int64(exactly: double) { return integer }
        throw wrong(name, "an integer", value)
    }

    /// A finite number.
    public mutating func number(_ name: String) throws(JSONFieldError) -> Double? {
        guard let value = value(name) else { return nil }
        guard let double = value.double else { throw wrong(name, "a number", value) }
        return double
    }

    /// `true` or `false`.
    public mutating func bool(_ name: String) throws(JSONFieldError) -> Bool? {
        guard let value = value(name) else { return nil }
        guard let flag = value.bool else { throw wrong(name, "true or false", value) }
        return flag
    }

    /// A JSON object member as the exact bytes received.
    public mutating func rawObject(_ name: String) throws(JSONFieldError) -> ByteBuffer? {
        guard let value = value(name) else { return nil }
        guard value.kind == .object else { throw wrong(name, "a JSON object", value) }
        return value.bytes
    }

    /// A nested object, read strictly in its turn.
    public mutating func object(_ name: String) throws(JSONFieldError) -> JSONFields? {
        guard let value = value(name) else { return nil }
        guard let object = value.object else { throw wrong(name, "a JSON object", value) }
        return JSONFields(object, path: path(of: name))
    }

    /// An array of non-empty strings.
    public mutating func strings(_ name: String) throws(JSONFieldError) -> [String]? {
        guard let value = value(name) else { return nil }
        guard let elements = value.elements else { throw wrong(name, "an array of strings", value) }
        var strings: [String] = []
        strings.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            guard let string = element.string, !string.isEmpty else {
                throw JSONFieldError(
                    field: name, path: path(of: name),
                    problem: .badElement(index: index, expected: "a non-empty string", found: element.kind))
            }
            strings.append(string)
        }
        return strings
    }

    /// An array of objects, each read strictly in its turn (paths `name[0]`, `name[1]`, …).
    public mutating func objects(_ name: String) throws(JSONFieldError) -> [JSONFields]? {
        guard let value = value(name) else { return nil }
        guard let elements = value.elements else { throw wrong(name, "an array of objects", value) }
        var objects: [JSONFields] = []
        for (index, element) in elements.enumerated() {
            guard let object = element.object else {
                throw JSONFieldError(
                    field: name, path: path(of: name),
                    problem: .badElement(index: index, expected: "an object", found: element.kind))
            }
            objects.append(JSONFields(object, path: "\(path(of: name))[\(index)]"))
        }
        return objects
    }

    /// Every key, sorted; reading them marks them read.
    public var keys: [String] { object.keys.sorted() }

    /// The first member (in key order) that was never read.
    public var firstUnread: String? {
        object.keys.sorted().first { !used.contains($0) }
    }

    /// Throws for the first member (in key order) that was never read.
    public func finish() throws(JSONFieldError) {
        if let unknown = firstUnread {
            throw JSONFieldError(field: unknown, path: path(of: unknown), problem: .unknown)
        }
    }

    private func wrong(_ name: String, _ expected: String, _ value: JSONValue) -> JSONFieldError {
        JSONFieldError(field: name, path: path(of: name), problem: .wrongKind(expected: expected, found: value.kind))
    }
}
