import APNsCore
import LiveActivity
import JSON
import NIOCore

/// What `activity.lifecycle` sends for one upstream state (`cancelled`, `ready`, `started`, `expired`, ...):
/// an update or an end push to every live token of the activity, its content state made from a template.
public struct LifecycleRule: Sendable {
    /// When an end push's activity leaves the Lock Screen.
    public enum Dismissal: Sendable, Hashable {
        /// No `dismissal-date`: the system's default (up to four hours after the end).
        case systemDefault
        /// `dismissal-date` now: the activity is removed at once.
        case now
        /// `dismissal-date` this many seconds after the push.
        case after(seconds: Int64)
    }

    /// `update` or `end`.
    public var event: LiveActivityEvent
    /// The `content-state`; required (an end's is the final content: APNs wants it with every end push).
    public var contentState: JSONTemplate?
    /// An optional alert; its texts may hold `{{name}}` placeholders.
    public var alert: AlertTemplate?
    /// For ends: when the activity is dismissed.
    public var dismissal: Dismissal
    /// The push's priority; `nil` takes the op's default (5 for updates, 10 for ends).
    public var priority: APNsPriority?

    /// Creates a rule; throws when it could never make a valid push (a start event, an update or end without
    /// content state, a dismissal on an update, priority 1).
    public init(
        event: LiveActivityEvent,
        contentState: JSONTemplate? = nil,
        alert: AlertTemplate? = nil,
        dismissal: Dismissal = .systemDefault,
        priority: APNsPriority? = nil
    ) throws(LifecycleRuleError) {
        switch event {
        case .start:
            throw LifecycleRuleError("event must be \"update\" or \"end\"; push-to-start has its own op")
        case .update:
            guard contentState != nil else { throw LifecycleRuleError("an update needs a contentState template") }
            guard dismissal == .systemDefault else { throw LifecycleRuleError("dismissal is only for \"end\"") }
        case .end:
            guard contentState != nil else {
                throw LifecycleRuleError("an end needs a contentState template (the final content; APNs requires it)")
            }
        }
        if priority == .low { throw LifecycleRuleError("priority must be 5 or 10") }
        self.event = event
        self.contentState = contentState
        self.alert = alert
        self.dismissal = dismissal
        self.priority = priority
    }
}

/// Why a ``LifecycleRule`` or template is not valid.
public struct LifecycleRuleError: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// An alert whose texts may hold `{{name}}` placeholders, filled from a request's `values`.
public struct AlertTemplate: Sendable, Hashable {
    public var title: String?
    public var body: String?
    public var sound: String?

    public init(title: String? = nil, body: String? = nil, sound: String? = nil) throws(LifecycleRuleError) {
        guard title != nil || body != nil else { throw LifecycleRuleError("an alert needs a title or a body") }
        self.title = title
        self.body = body
        self.sound = sound
    }

    func render(values: JSONObject) throws(LiveActivityServiceError) -> LiveActivityAlert {
        var alert = LiveActivityAlert(sound: sound)
        if let title { alert.title = .plain(try JSONTemplate.substitute(in: title, values: values)) }
        if let body { alert.body = .plain(try JSONTemplate.substitute(in: body, values: values)) }
        return alert
    }
}

/// A JSON object with `{{name}}` placeholders in its strings. A string that is exactly one placeholder is
/// replaced by the value (any JSON: a number stays a number); a placeholder inside a longer string is replaced
/// by the value's text (a string or a number). Rendered with sorted keys; values are copied as received.
public struct JSONTemplate: Sendable, Hashable {
    /// The template as JSON text.
    public let json: String
    /// The placeholder names it uses.
    public let placeholders: Set<String>

    /// Parses `json`, which must be one JSON object.
    public init(json: String) throws(LifecycleRuleError) {
        try self.init(bytes: ByteBuffer(string: json))
    }

    /// A template from the bytes of one JSON object.
    public init(bytes: ByteBuffer) throws(LifecycleRuleError) {
        let object: JSONObject
        do {
            object = try JSONObject(parsing: bytes)
        } catch {
            throw LifecycleRuleError("the template is not a JSON object: \(error)")
        }
        self.json = String(buffer: bytes.trimmingJSONWhitespace())
        var names = Set<String>()
        Self.collect(.object(object), into: &names)
        self.placeholders = names
    }

    /// The JSON with every placeholder filled from `values`.
    func render(values: JSONObject) throws(LiveActivityServiceError) -> ByteBuffer {
        guard let object = try? JSONObject(parsing: ByteBuffer(string: json)) else {
            throw LiveActivityServiceError(.invalidPayload, "the configured content-state template is not valid JSON")
        }
        var writer = JSONWriter(capacity: json.utf8.count + 64)
        try Self.fill(.object(object), values: values, into: &writer)
        return writer.buffer
    }

    /// A template value: an object's members by name, or one value as received.
    private enum Node {
        case object(JSONObject)
        case value(JSONValue)
    }

    private static func fill(_ node: Node, values: JSONObject, into writer: inout JSONWriter) throws(LiveActivityServiceError) {
        switch node {
        case .object(let object):
            writer.beginObject()
            for key in object.keys.sorted() {
                writer.key(dynamic: key)
                try fillValue(object[key]!, values: values, into: &writer)
            }
            writer.endObject()
        case .value(let value):
            try fillValue(value, values: values, into: &writer)
        }
    }

    /// Writes one value (the writer positioned after a key, or at an element).
    private static func fillValue(_ value: JSONValue, values: JSONObject, into writer: inout JSONWriter) throws(LiveActivityServiceError) {
        switch value.kind {
        case .string:
            let string = value.string ?? ""
            if let name = wholePlaceholder(string) {
                guard let replacement = values[name] else { throw missing(name) }
                writer.rawValue(replacement.bytes)
            } else {
                writer.stringValue(try substitute(in: string, values: values))
            }
        case .object:
            try fill(.object(value.object!), values: values, into: &writer)
        case .array:
            writer.beginArray()
            for element in value.elements ?? [] {
                try fillValue(element, values: values, into: &writer)
            }
            writer.endArray()
        default:
            writer.rawValue(value.bytes)
        }
    }

    /// Replaces each `{{name}}` in `text` by the value's text.
    static func substitute(in text: String, values: JSONObject) throws(LiveActivityServiceError) -> String {
        var result = ""
        var rest = Substring(text)
        while let open = rest.range(of: "{{"), let close = rest[open.upperBound...].range(of: "}}") {
            let name = String(rest[open.upperBound..<close.lowerBound])
            result += rest[..<open.lowerBound]
            if isName(name) {
                guard let value = values[name] else { throw missing(name) }
                if let string = value.string {
                    result += string
                } else if value.kind == .number {
                    result += String(buffer: value.bytes)
                } else {
                    throw .badRequest(
                        "\"values.\(name)\" is used inside a text, so it must be a string or a number, not "
                            + value.kind.described, field: "values")
                }
            } else {
                result += rest[open.lowerBound..<close.upperBound]
            }
            rest = rest[close.upperBound...]
        }
        return result + rest
    }

    private static func missing(_ name: String) -> LiveActivityServiceError {
        .badRequest("the template needs \"values.\(name)\"; add it to \"values\"", field: "values")
    }

    private static func wholePlaceholder(_ string: String) -> String? {
        guard string.utf8.starts(with: "{{".utf8), string.utf8.reversed().starts(with: "}}".utf8), string.count > 4 else {
            return nil
        }
        let name = String(string.dropFirst(2).dropLast(2))
        return isName(name) ? name : nil
    }

    private static func isName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64
            && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == ".") }
    }

    private static func collect(_ node: Node, into names: inout Set<String>) {
        switch node {
        case .object(let object):
            for key in object.keys { collect(.value(object[key]!), into: &names) }
        case .value(let value):
            switch value.kind {
            case .string:
                var rest = Substring(value.string ?? "")
                while let open = rest.range(of: "{{"), let close = rest[open.upperBound...].range(of: "}}") {
                    let name = String(rest[open.upperBound..<close.lowerBound])
                    if isName(name) { names.insert(name) }
                    rest = rest[close.upperBound...]
                }
            case .object:
                if let object = value.object { collect(.object(object), into: &names) }
            case .array:
                for element in value.elements ?? [] { collect(.value(element), into: &names) }
            default:
                break
            }
        }
    }
}
