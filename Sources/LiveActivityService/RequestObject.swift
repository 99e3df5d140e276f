import IntakeOps
import JSON
import LiveActivity
import NIOCore

/// Strict typed access to one request's members, as the ops read them: the JSON module's ``JSONFields`` with
/// the service's errors. Every read names its field in errors, and ``finish()`` refuses members nobody read
/// (usually a misspelling). The members come from the intake's one scan of the line; nothing here decodes
/// JSON again, and raw JSON values (``rawObject(_:)``) are the line's own bytes.
struct RequestObject {
    let op: String
    private var fields: JSONFields

    /// The request's members (`id` and `op` count as read).
    init(_ request: IntakeRequest) {
        self.op = request.op
        self.fields = request.fields
    }

    /// A nested object read in its turn (the `alert` of a request).
    init(fields: JSONFields, op: String) {
        self.op = op
        self.fields = fields
    }

    func has(_ name: String) -> Bool {
        fields.has(name)
    }

    mutating func value(_ name: String) -> JSONValue? {
        fields.value(name)
    }

    mutating func string(_ name: String) throws(LiveActivityServiceError) -> String? {
        try read { (fields: inout JSONFields) throws(JSONFieldError) in try fields.string(name) }
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
        try read { (fields: inout JSONFields) throws(JSONFieldError) in try fields.integer(name) }
    }

    mutating func number(_ name: String) throws(LiveActivityServiceError) -> Double? {
        try read { (fields: inout JSONFields) throws(JSONFieldError) in try fields.number(name) }
    }

    mutating func bool(_ name: String) throws(LiveActivityServiceError) -> Bool? {
        try read { (fields: inout JSONFields) throws(JSONFieldError) in try fields.bool(name) }
    }

    /// A date as epoch seconds: a non-negative integer, or a string of epoch seconds or ISO-8601.
    mutating func date(_ name: String) throws(LiveActivityServiceError) -> Int64? {
        guard let value = value(name) else { return nil }
        return try Self.date(value, field: name)
    }

    static func date(_ value: JSONValue, field: String) throws(LiveActivityServiceError) -> Int64 {
        let problem = "use epoch seconds (a non-negative integer) or ISO-8601 like 2025-06-05T08:00:00Z"
        if let text = value.string {
            guard let seconds = LiveActivityDate.parse(text) else {
                throw LiveActivityServiceError(.badDate, "\"\(field)\" \(shown(text)) is not a date: \(problem)", field: field)
            }
            return seconds
        }
        if let number = value.double {
            guard let seconds = Int64(exactly: number), seconds >= 0, seconds <= LiveActivityDate.latest else {
                throw LiveActivityServiceError(
                    .badDate, "\"\(field)\" \(String(buffer: value.bytes)) is not a date: \(problem)", field: field)
            }
            return seconds
        }
        throw LiveActivityServiceError(
            .badDate, "\"\(field)\" must be a date, not \(value.kind.described): \(problem)", field: field)
    }

    /// A JSON object member as the exact bytes received.
    mutating func rawObject(_ name: String) throws(LiveActivityServiceError) -> ByteBuffer? {
        try read { (fields: inout JSONFields) throws(JSONFieldError) in try fields.rawObject(name) }
    }

    /// A nested object, read strictly in its turn.
    mutating func object(_ name: String) throws(LiveActivityServiceError) -> RequestObject? {
        guard let nested = try read({ (fields: inout JSONFields) throws(JSONFieldError) in try fields.object(name) }) else {
            return nil
        }
        return RequestObject(fields: nested, op: op)
    }

    /// A nested object's members, for callers that read them by name themselves (lifecycle `values`).
    mutating func members(_ name: String) throws(LiveActivityServiceError) -> JSONObject? {
        try object(name)?.fields.object
    }

    mutating func strings(_ name: String) throws(LiveActivityServiceError) -> [String]? {
        try read { (fields: inout JSONFields) throws(JSONFieldError) in try fields.strings(name) }
    }

    /// The first member nobody read, if any.
    var firstUnread: String? { fields.firstUnread }

    /// Refuses the first member nobody read.
    func finish() throws(LiveActivityServiceError) {
        do {
            try fields.finish()
        } catch {
            throw Self.error(error, op: op)
        }
    }

    /// A value for a message: quoted, cut after 64 characters.
    static func shown(_ text: String) -> String {
        let cut = text.count > 64 ? String(text.prefix(64)) + "…" : text
        return "\"" + cut.map { $0.isASCII && ($0.asciiValue! < 0x20 || $0.asciiValue! == 0x7F) ? "?" : String($0) }.joined() + "\""
    }

    private mutating func read<T>(
        _ body: (inout JSONFields) throws(JSONFieldError) -> T
    ) throws(LiveActivityServiceError) -> T {
        do {
            return try body(&fields)
        } catch {
            throw Self.error(error, op: op)
        }
    }

    private static func error(_ error: JSONFieldError, op: String) -> LiveActivityServiceError {
        switch error.problem {
        case .unknown:
            return .badRequest("unknown field \(shown(error.path)) for \(op) (check its spelling)", field: error.path)
        default:
            return .badRequest("\"\(error.path)\" \(error.explanation)", field: error.path)
        }
    }
}
