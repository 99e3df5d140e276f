import Foundation
import JSON
import NIOCore

/// A configuration problem, naming the key (`apps[0].keyPath`) and what is wrong with it.
struct ConfigError: Error, CustomStringConvertible {
    var key: String
    var problem: String

    var description: String { key.isEmpty ? problem : "\(key): \(problem)" }

    /// A member of the wrong kind, or unknown, as found by the JSON module's strict reader.
    init(_ error: JSONFieldError) {
        self.key = error.path
        switch error.problem {
        case .unknown: self.problem = "unknown key (check its spelling)"
        default: self.problem = error.explanation
        }
    }

    init(key: String, problem: String) {
        self.key = key
        self.problem = problem
    }
}

/// Strict typed access to one JSON object of the configuration: the JSON module's ``JSONFields`` with the
/// configuration's errors and bounds. Every read names its key path, and ``finish()`` rejects keys nobody read
/// (usually a misspelling).
struct ConfigObject {
    private var fields: JSONFields

    init(_ fields: JSONFields) {
        self.fields = fields
    }

    /// An absent section, read as an empty object.
    static func empty(path: String) -> ConfigObject {
        ConfigObject(JSONFields(.empty, path: path))
    }

    var path: String { fields.path }

    /// Parses a whole file's bytes, which must hold one JSON object.
    static func parse(_ data: Data, name: String) throws -> ConfigObject {
        do {
            return ConfigObject(JSONFields(try JSONObject(parsing: ByteBuffer(bytes: data))))
        } catch {
            throw ConfigError(key: "", problem: "\(name) must hold one JSON object: \(error)")
        }
    }

    func key(_ name: String) -> String { fields.path(of: name) }

    mutating func raw(_ name: String) -> JSONValue? {
        fields.value(name)
    }

    mutating func string(_ name: String) throws -> String? {
        try read { (fields: inout JSONFields) throws(JSONFieldError) in try fields.string(name) }
    }

    mutating func requiredString(_ name: String) throws -> String {
        guard let value = try string(name) else { throw ConfigError(key: key(name), problem: "is required") }
        return value
    }

    mutating func int(_ name: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let value = try read({ (fields: inout JSONFields) throws(JSONFieldError) in try fields.integer(name) }) else {
            return nil
        }
        guard let int = Int(exactly: value), range.contains(int) else {
            throw ConfigError(key: key(name), problem: "must be within \(range.lowerBound)...\(range.upperBound); got \(value)")
        }
        return int
    }

    mutating func seconds(_ name: String, in range: ClosedRange<Double>) throws -> Double? {
        guard let seconds = try read({ (fields: inout JSONFields) throws(JSONFieldError) in try fields.number(name) }) else {
            return nil
        }
        guard range.contains(seconds) else {
            throw ConfigError(key: key(name), problem: "must be within \(range.lowerBound)...\(range.upperBound) seconds; got \(seconds)")
        }
        return seconds
    }

    mutating func object(_ name: String) throws -> ConfigObject? {
        try read { (fields: inout JSONFields) throws(JSONFieldError) in try fields.object(name) }.map(ConfigObject.init)
    }

    mutating func objects(_ name: String) throws -> [ConfigObject]? {
        try read { (fields: inout JSONFields) throws(JSONFieldError) in try fields.objects(name) }?.map(ConfigObject.init)
    }

    /// Every key, sorted; reading them through ``raw(_:)`` or the typed getters marks them used.
    var keys: [String] { fields.keys }

    /// Throws for the first key that was never read.
    func finish() throws {
        do {
            try fields.finish()
        } catch {
            throw ConfigError(error)
        }
    }

    private mutating func read<T>(_ body: (inout JSONFields) throws(JSONFieldError) -> T) throws -> T {
        do {
            return try body(&fields)
        } catch {
            throw ConfigError(error)
        }
    }
}
