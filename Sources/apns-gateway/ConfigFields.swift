import Foundation

/// A configuration problem, naming the key (`apps[0].keyPath`) and what is wrong with it.
struct ConfigError: Error, CustomStringConvertible {
    var key: String
    var problem: String

    var description: String { key.isEmpty ? problem : "\(key): \(problem)" }
}

/// Strict typed access to one JSON object of the configuration: every read names its key path, and
/// ``finish()`` rejects keys nobody read (usually a misspelling).
struct ConfigObject {
    let path: String
    private let object: [String: Any]
    private var used: Set<String> = []

    init(_ object: [String: Any], path: String) {
        self.object = object
        self.path = path
    }

    /// Parses a whole file's bytes, which must hold one JSON object.
    static func parse(_ data: Data, name: String) throws -> ConfigObject {
        let value: Any
        do {
            value = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw ConfigError(key: "", problem: "\(name) is not valid JSON: \(error.localizedDescription)")
        }
        guard let object = value as? [String: Any] else {
            throw ConfigError(key: "", problem: "\(name) must hold a JSON object")
        }
        return ConfigObject(object, path: "")
    }

    func key(_ name: String) -> String { path.isEmpty ? name : "\(path).\(name)" }

    mutating func raw(_ name: String) -> Any? {
        used.insert(name)
        guard let value = object[name], !(value is NSNull) else { return nil }
        return value
    }

    mutating func string(_ name: String) throws -> String? {
        guard let value = raw(name) else { return nil }
        guard let string = value as? String else { throw ConfigError(key: key(name), problem: "must be a string") }
        guard !string.isEmpty else { throw ConfigError(key: key(name), problem: "must not be empty") }
        return string
    }

    mutating func requiredString(_ name: String) throws -> String {
        guard let value = try string(name) else { throw ConfigError(key: key(name), problem: "is required") }
        return value
    }

    mutating func int(_ name: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let value = raw(name) else { return nil }
        guard let number = value as? NSNumber, !isBoolean(value), let int = Int(exactly: number.doubleValue) else {
            throw ConfigError(key: key(name), problem: "must be an integer")
        }
        guard range.contains(int) else {
            throw ConfigError(key: key(name), problem: "must be within \(range.lowerBound)...\(range.upperBound); got \(int)")
        }
        return int
    }

    mutating func seconds(_ name: String, in range: ClosedRange<Double>) throws -> Double? {
        guard let value = raw(name) else { return nil }
        guard let number = value as? NSNumber, !isBoolean(value) else {
            throw ConfigError(key: key(name), problem: "must be a number of seconds")
        }
        let seconds = number.doubleValue
        guard range.contains(seconds) else {
            throw ConfigError(key: key(name), problem: "must be within \(range.lowerBound)...\(range.upperBound) seconds; got \(seconds)")
        }
        return seconds
    }

    mutating func object(_ name: String) throws -> ConfigObject? {
        guard let value = raw(name) else { return nil }
        guard let object = value as? [String: Any] else { throw ConfigError(key: key(name), problem: "must be an object") }
        return ConfigObject(object, path: key(name))
    }

    mutating func objects(_ name: String) throws -> [ConfigObject]? {
        guard let value = raw(name) else { return nil }
        guard let list = value as? [Any] else { throw ConfigError(key: key(name), problem: "must be an array of objects") }
        return try list.enumerated().map { index, element in
            guard let object = element as? [String: Any] else {
                throw ConfigError(key: "\(key(name))[\(index)]", problem: "must be an object")
            }
            return ConfigObject(object, path: "\(key(name))[\(index)]")
        }
    }

    /// Every key, sorted; reading them through ``raw(_:)`` or the typed getters marks them used.
    var keys: [String] { object.keys.sorted() }

    /// Throws for the first key that was never read.
    func finish() throws {
        if let unknown = object.keys.sorted().first(where: { !used.contains($0) }) {
            throw ConfigError(key: key(unknown), problem: "unknown key (check its spelling)")
        }
    }
}

/// True for JSON `true`/`false` (Foundation hands them out as a boolean NSNumber, which also casts to Bool when the
/// number is 0 or 1).
func isBoolean(_ value: Any) -> Bool {
    let name = String(describing: type(of: value))
    return value is Bool && (name == "Bool" || name.contains("Boolean"))
}
