import APNsCore
import JSON
import NIOCore

/// One notification item of a `send` request as found in the line: decoded strings and numbers, and
/// where the payload lies (the payload itself is never decoded; its check travels with it). `problem` is set when the item
/// is malformed; the item then gets a local error result and the rest of the batch goes on.
///
/// The fields most items leave out (``Extras``) live in one box, shared by copies and copied before a change, so that
/// an item, which is copied on its way from the scan to its client, costs one reference to copy rather than eight; an
/// item with none of them has no box. Each has an accessor of its own rather than one key-path subscript: a key path
/// costs a release at every access, on the push path.
struct ScannedItem {
    /// Read without a string when it is 64 lowercase hex digits (see ``APNsDeviceToken``).
    var token: APNsDeviceToken?
    var payload: JSONObjectRange?
    var priority: Int64?
    var expiration: Int64?
    private var box: Box?

    struct Extras: Equatable {
        var channelID: String?
        var topic: String?
        var pushType: String?
        var collapseID: String?
        var apnsID: String?
        var app: String?
        var environment: String?
        var problem: String?
    }

    private final class Box {
        var extras: Extras

        init(_ extras: Extras) {
            self.extras = extras
        }
    }

    /// An empty item, for the scan to fill in.
    init() {}

    init(
        token: APNsDeviceToken? = nil, channelID: String? = nil, payload: JSONObjectRange? = nil,
        priority: Int64? = nil, expiration: Int64? = nil, topic: String? = nil, pushType: String? = nil,
        collapseID: String? = nil, apnsID: String? = nil, app: String? = nil, environment: String? = nil,
        problem: String? = nil
    ) {
        self.token = token
        self.payload = payload
        self.priority = priority
        self.expiration = expiration
        let extras = Extras(
            channelID: channelID, topic: topic, pushType: pushType, collapseID: collapseID, apnsID: apnsID, app: app,
            environment: environment, problem: problem)
        box = extras == Extras() ? nil : Box(extras)
    }

    /// A broadcast channel in place of `token`: the item is one broadcast push.
    var channelID: String? {
        get { box?.extras.channelID }
        set { change(to: newValue) { $0.channelID = newValue } }
    }
    var topic: String? {
        get { box?.extras.topic }
        set { change(to: newValue) { $0.topic = newValue } }
    }
    var pushType: String? {
        get { box?.extras.pushType }
        set { change(to: newValue) { $0.pushType = newValue } }
    }
    var collapseID: String? {
        get { box?.extras.collapseID }
        set { change(to: newValue) { $0.collapseID = newValue } }
    }
    var apnsID: String? {
        get { box?.extras.apnsID }
        set { change(to: newValue) { $0.apnsID = newValue } }
    }
    var app: String? {
        get { box?.extras.app }
        set { change(to: newValue) { $0.app = newValue } }
    }
    /// `"production"` or `"sandbox"`: which of the app's connections the token belongs to.
    var environment: String? {
        get { box?.extras.environment }
        set { change(to: newValue) { $0.environment = newValue } }
    }
    var problem: String? {
        get { box?.extras.problem }
        set { change(to: newValue) { $0.problem = newValue } }
    }

    /// Sets one of the extras to `value` with `set`: in the item's own box (made, or copied when shared, first),
    /// and not at all when `value` is nil and there is no box.
    private mutating func change(to value: String?, _ set: (inout Extras) -> Void) {
        if box == nil {
            guard value != nil else { return }
            box = Box(Extras())
        } else if !isKnownUniquelyReferenced(&box!) {
            box = Box(box!.extras)
        }
        set(&box!.extras)
    }
}

/// A request line, scanned.
enum ScannedRequest {
    case send(id: Range<Int>, items: [ScannedItem])
    case ping(id: Range<Int>)
    case stats(id: Range<Int>)
    /// An op the core does not know: looked up among the extension operations, which get the members.
    case other(id: Range<Int>, op: String, members: JSONMemberCollector)
    /// The line was read but is not a valid request; `id` is its id when one could be read.
    case failure(id: Range<Int>?, IntakeErrorCode, String)
}

extension ScannedRequest {
    /// The request's `op`; nil when the line is not a valid request.
    var op: String? {
        switch self {
        case .send: "send"
        case .ping: "ping"
        case .stats: "stats"
        case .other(_, let op, _): op
        case .failure: nil
        }
    }

    /// Where the request's `id` lies in the line, when it could be read.
    var id: Range<Int>? {
        switch self {
        case .send(let id, _), .ping(let id), .stats(let id), .other(let id, _, _): id
        case .failure(let id, _, _): id
        }
    }
}

/// The scanner for request lines: one pass of the JSON module's reader, no Codable, payloads located not
/// decoded. Extension ops get the members it collected on the way, so their requests are not scanned again.
///
/// Top-level members other than `id`, `op` and `notifications` are checked and ignored; unknown
/// members inside a notification make that item fail (they are usually a misspelt field).
enum RequestScanner {
    static func scan(_ bytes: UnsafeRawBufferPointer, maxBatchSize: Int) -> ScannedRequest {
        var reader = JSONReader(bytes)
        var id: Range<Int>?
        var idProblem: String?
        var op: String?
        var opProblem: String?
        var items: [ScannedItem]?
        var itemsProblem: String?
        var members = JSONMemberCollector()
        do throws(JSONSyntaxError) {
            guard try reader.peekKind() == .object else {
                try reader.skipValue()
                try reader.expectEnd()
                return .failure(id: nil, .badRequest, "a request must be a JSON object")
            }
            try reader.beginObject()
            var first = true
            while let key = try reader.nextMember(&first) {
                if reader.equals(key, "id") {
                    let kind = try reader.peekKind()
                    let range = try members.skipValue(named: key, &reader)
                    if kind == .string || kind == .number {
                        id = range
                        idProblem = nil
                    } else {
                        idProblem = "\"id\" must be a string or a number, not \(kind.rawValue)"
                    }
                } else if reader.equals(key, "op") {
                    let kind = try reader.peekKind()
                    if kind == .string {
                        let start = reader.offset
                        op = try reader.readString()
                        members.record(named: key, kind: kind, range: start..<reader.offset, reader)
                        opProblem = nil
                    } else {
                        opProblem = "\"op\" must be a string"
                        try members.skipValue(named: key, &reader)
                    }
                } else if reader.equals(key, "notifications") {
                    if try reader.peekKind() == .array {
                        items = try scanItems(&reader)
                        itemsProblem = nil
                    } else {
                        itemsProblem = "\"notifications\" must be an array"
                        try members.skipValue(named: key, &reader)
                    }
                } else {
                    try members.skipValue(named: key, &reader)
                }
            }
            try reader.expectEnd()
        } catch {
            return .failure(id: nil, .invalidJSON, "invalid JSON at byte \(error.offset): \(error.problem)")
        }
        if let idProblem { return .failure(id: nil, .badRequest, idProblem) }
        guard let id else { return .failure(id: nil, .badRequest, "missing \"id\" (a string or a number)") }
        if let opProblem { return .failure(id: id, .badRequest, opProblem) }
        guard let op else { return .failure(id: id, .badRequest, "missing \"op\"") }
        switch op {
        case "send":
            if let itemsProblem { return .failure(id: id, .badRequest, itemsProblem) }
            guard let items else { return .failure(id: id, .badRequest, "missing \"notifications\" (an array)") }
            guard items.count <= maxBatchSize else {
                return .failure(
                    id: id, .batchTooLarge, "\(items.count) notifications in one request; at most \(maxBatchSize) are allowed")
            }
            return .send(id: id, items: items)
        case "ping":
            return .ping(id: id)
        case "stats":
            return .stats(id: id)
        default:
            return .other(id: id, op: op, members: members)
        }
    }

    private static func scanItems(_ reader: inout JSONReader) throws(JSONSyntaxError) -> [ScannedItem] {
        var items: [ScannedItem] = []
        try reader.beginArray()
        var first = true
        while try reader.nextElement(&first) {
            items.append(try scanItem(&reader))
        }
        return items
    }

    private static func scanItem(_ reader: inout JSONReader) throws(JSONSyntaxError) -> ScannedItem {
        var item = ScannedItem()
        let itemKind = try reader.peekKind()
        guard itemKind == .object else {
            try reader.skipValue()
            item.problem = "a notification must be a JSON object, not \(itemKind.rawValue)"
            return item
        }
        try reader.beginObject()
        var first = true
        while let key = try reader.nextMember(&first) {
            let kind = try reader.peekKind()
            func note(_ problem: String) {
                if item.problem == nil { item.problem = problem }
            }
            func string(_ name: String) throws(JSONSyntaxError) -> String? {
                guard kind == .string else {
                    note("\"\(name)\" must be a string, not \(kind.rawValue)")
                    try reader.skipValue()
                    return nil
                }
                return try reader.readString()
            }
            func integer(_ name: String) throws(JSONSyntaxError) -> Int64? {
                let range = try reader.skipValue()
                guard kind == .number, let value = reader.integer(in: range) else {
                    note("\"\(name)\" must be an integer")
                    return nil
                }
                return value
            }
            if reader.equals(key, "token") {
                if kind == .string {
                    // 64 lowercase hex digits straight from the line; any other token through its string.
                    let range = try reader.scanString()
                    let packed = range.hasEscapes
                        ? nil : APNsDeviceToken(lowercaseHex: UnsafeRawBufferPointer(rebasing: reader.bytes[range.content]))
                    item.token = packed ?? APNsDeviceToken(reader.string(range))
                } else {
                    _ = try string("token")
                }
            } else if reader.equals(key, "channelId") {
                item.channelID = try string("channelId")
            } else if reader.equals(key, "payload") {
                if kind == .object {
                    item.payload = try reader.skipObject()
                } else {
                    try reader.skipValue()
                    note("\"payload\" must be a JSON object, not \(kind.rawValue)")
                }
            } else if reader.equals(key, "priority") {
                item.priority = try integer("priority")
            } else if reader.equals(key, "expiration") {
                item.expiration = try integer("expiration")
            } else if reader.equals(key, "topic") {
                item.topic = try string("topic")
            } else if reader.equals(key, "pushType") {
                item.pushType = try string("pushType")
            } else if reader.equals(key, "collapseId") {
                item.collapseID = try string("collapseId")
            } else if reader.equals(key, "apnsId") {
                item.apnsID = try string("apnsId")
            } else if reader.equals(key, "app") {
                item.app = try string("app")
            } else if reader.equals(key, "environment") {
                item.environment = try string("environment")
            } else {
                let raw = UnsafeRawBufferPointer(rebasing: reader.bytes[key.content.lowerBound..<min(key.content.upperBound, key.content.lowerBound + 40)])
                note("unknown field \"\(String(decoding: raw, as: UTF8.self))\"")
                try reader.skipValue()
            }
        }
        if item.problem == nil {
            if item.token != nil && item.channelID != nil {
                item.problem = "give \"token\" (one device) or \"channelId\" (a broadcast), not both"
            } else if item.token == nil && item.channelID == nil {
                item.problem = "missing \"token\""
            } else if item.payload == nil {
                item.problem = "missing \"payload\""
            }
        }
        return item
    }
}
