import APNsCore
import JSON

/// Why a Live Activity payload could not be built. Each case names the `aps` key at fault
/// (``field``) and explains the rule in ``description``.
public enum LiveActivityPayloadError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A start push without `attributes-type` or `attributes`.
    case startNeedsAttributes
    /// A start push without `alert`.
    case startNeedsAlert
    /// `attributes-type` or `attributes` on an update or end push.
    case attributesOnlyForStart(LiveActivityEvent)
    /// `input-push-token` or `input-push-channel` on an update or end push.
    case inputPushOnlyForStart(field: String, event: LiveActivityEvent)
    /// `dismissal-date` on a start push.
    case dismissalDateNotForStart
    /// A push without `content-state` (every event needs it; an end needs the final content).
    case missingContentState(LiveActivityEvent)
    /// `content-state` is not exactly one JSON object.
    case contentStateNotObject(JSONSyntaxError)
    /// `attributes` is not exactly one JSON object.
    case attributesNotObject(JSONSyntaxError)
    /// An alert with neither a title nor a body.
    case alertWithoutText
    /// A string member that must not be empty is empty (`attributes-type`, `alert.title`, ...).
    case emptyValue(field: String)
    /// `relevance-score` is not a finite number (the value as text).
    case badRelevanceScore(String)
    /// A date is neither ISO-8601 nor epoch seconds, or is before 1970 or after 9999.
    case badDate(field: String, value: String)
    /// The encoded payload is larger than APNs accepts.
    case payloadTooLarge(size: Int, limit: Int)

    /// The `aps` key at fault, e.g. `"content-state"`, or `"payload"` for the size.
    public var field: String {
        switch self {
        case .startNeedsAttributes, .attributesOnlyForStart: return "attributes"
        case .startNeedsAlert, .alertWithoutText: return "alert"
        case .inputPushOnlyForStart(let field, _): return field
        case .dismissalDateNotForStart: return "dismissal-date"
        case .missingContentState, .contentStateNotObject: return "content-state"
        case .attributesNotObject: return "attributes"
        case .emptyValue(let field): return field
        case .badRelevanceScore: return "relevance-score"
        case .badDate(let field, _): return field
        case .payloadTooLarge: return "payload"
        }
    }

    /// What is wrong and what the rule is.
    public var description: String {
        switch self {
        case .startNeedsAttributes:
            return "a start push needs \"attributes-type\" (the ActivityAttributes type name) and \"attributes\" "
                + "(its static values as a JSON object)"
        case .startNeedsAlert:
            return "a start push needs an \"alert\" with a title or body"
        case .attributesOnlyForStart(let event):
            return "\"attributes-type\" and \"attributes\" are only for start pushes, not \(event.rawValue)"
        case .inputPushOnlyForStart(let field, let event):
            return "\"\(field)\" is only for start pushes, not \(event.rawValue)"
        case .dismissalDateNotForStart:
            return "\"dismissal-date\" is for update and end pushes, not start"
        case .missingContentState(.end):
            return "an end push needs the final \"content-state\" (a JSON object): APNs requires it with \"end\""
        case .missingContentState(let event):
            return "a \(event.rawValue) push needs \"content-state\" (a JSON object)"
        case .contentStateNotObject(let error):
            return "\"content-state\" is not a JSON object: \(error)"
        case .attributesNotObject(let error):
            return "\"attributes\" is not a JSON object: \(error)"
        case .alertWithoutText:
            return "\"alert\" needs a title or a body"
        case .emptyValue(let field):
            return "\"\(field)\" is empty"
        case .badRelevanceScore(let value):
            return "\"relevance-score\" must be a finite number, not \(value)"
        case .badDate(let field, let value):
            return "\"\(field)\" \(quoted(value)) is not a date: use epoch seconds (a non-negative integer) "
                + "or ISO-8601 like 2024-06-05T08:00:00Z, from 1970 to 9999"
        case .payloadTooLarge(let size, let limit):
            return "payload is \(size) bytes; Live Activity pushes allow at most \(limit)"
        }
    }
}

/// A value for a message: quoted, non-printable characters replaced by `?`, cut after 64
/// characters.
package func quoted(_ value: String) -> String {
    var text = ""
    for (count, scalar) in value.unicodeScalars.enumerated() {
        if count == 64 {
            text += "…"
            break
        }
        text.unicodeScalars.append(scalar.value >= 0x20 && scalar.value != 0x7F ? scalar : "?")
    }
    return "\"\(text)\""
}
