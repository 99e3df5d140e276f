import NIOCore

/// One notification item of a `send` request as found in the line: decoded strings and numbers, and
/// the payload's byte range (the payload itself is never decoded). `problem` is set when the item
/// is malformed; the item then gets a local error result and the rest of the batch goes on.
struct ScannedItem {
    var token: String?
    var payload: Range<Int>?
    var priority: Int64?
    var expiration: Int64?
    var topic: String?
    var pushType: String?
    var collapseID: String?
    var apnsID: String?
    var app: String?
    var problem: String?
}

/// A request line, scanned.
enum ScannedRequest {
    case send(id: Range<Int>, items: [ScannedItem])
    case ping(id: Range<Int>)
    case stats(id: Range<Int>)
    /// An op the core does not know: looked up among the extension operations.
    case other(id: Range<Int>, op: String)
    /// The line was read but is not a valid request; `id` is its id when one could be read.
    case failure(id: Range<Int>?, IntakeErrorCode, String)
}

/// The hand-written scanner for request lines: one pass, no Codable, payloads located not decoded.
///
/// Top-level members other than `id`, `op` and `notifications` are checked and ignored; unknown
/// members inside a notification make that item fail (they are usually a misspelt field).
enum RequestScanner {
    static func scan(_ bytes: UnsafeRawBufferPointer, maxBatchSize: Int) -> ScannedRequest {
        var cursor = JSONCursor(bytes)
        var id: Range<Int>?
        var idProblem: String?
        var op: String?
        var opProblem: String?
        var items: [ScannedItem]?
        var itemsProblem: String?
        do throws(JSONScanError) {
            guard try cursor.peekKind() == .object else {
                try cursor.skipValue()
                try checkEnd(&cursor)
                return .failure(id: nil, .badRequest, "a request must be a JSON object")
            }
            cursor.index += 1
            if !(try cursor.consume(UInt8(ascii: "}"))) {
                repeat {
                    let (start, end, _) = try cursor.scanString()
                    try cursor.expect(UInt8(ascii: ":"))
                    if cursor.equals(start, end, "id") {
                        let kind = try cursor.peekKind()
                        let range = try cursor.skipValue()
                        if kind == .string || kind == .number {
                            id = range
                            idProblem = nil
                        } else {
                            idProblem = "\"id\" must be a string or a number, not \(kind.rawValue)"
                        }
                    } else if cursor.equals(start, end, "op") {
                        if try cursor.peekKind() == .string {
                            op = try cursor.readString()
                            opProblem = nil
                        } else {
                            opProblem = "\"op\" must be a string"
                            try cursor.skipValue()
                        }
                    } else if cursor.equals(start, end, "notifications") {
                        if try cursor.peekKind() == .array {
                            items = try scanItems(&cursor)
                            itemsProblem = nil
                        } else {
                            itemsProblem = "\"notifications\" must be an array"
                            try cursor.skipValue()
                        }
                    } else {
                        try cursor.skipValue()
                    }
                } while try cursor.consume(UInt8(ascii: ","))
                try cursor.expect(UInt8(ascii: "}"))
            }
            try checkEnd(&cursor)
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
            return .other(id: id, op: op)
        }
    }

    private static func checkEnd(_ cursor: inout JSONCursor) throws(JSONScanError) {
        cursor.skipWhitespace()
        guard cursor.atEnd else { throw cursor.fail("more after the request object") }
    }

    private static func scanItems(_ cursor: inout JSONCursor) throws(JSONScanError) -> [ScannedItem] {
        cursor.index += 1  // [
        var items: [ScannedItem] = []
        if try cursor.consume(UInt8(ascii: "]")) { return items }
        repeat {
            items.append(try scanItem(&cursor))
        } while try cursor.consume(UInt8(ascii: ","))
        try cursor.expect(UInt8(ascii: "]"))
        return items
    }

    private static func scanItem(_ cursor: inout JSONCursor) throws(JSONScanError) -> ScannedItem {
        var item = ScannedItem()
        guard try cursor.peekKind() == .object else {
            let kind = try cursor.peekKind()
            try cursor.skipValue(depth: 2)
            item.problem = "a notification must be a JSON object, not \(kind.rawValue)"
            return item
        }
        cursor.index += 1
        if try cursor.consume(UInt8(ascii: "}")) {
            item.problem = "missing \"token\""
            return item
        }
        repeat {
            let (start, end, _) = try cursor.scanString()
            try cursor.expect(UInt8(ascii: ":"))
            let kind = try cursor.peekKind()
            func note(_ problem: String) {
                if item.problem == nil { item.problem = problem }
            }
            func string(_ name: String) throws(JSONScanError) -> String? {
                guard kind == .string else {
                    note("\"\(name)\" must be a string, not \(kind.rawValue)")
                    try cursor.skipValue(depth: 2)
                    return nil
                }
                return try cursor.readString()
            }
            func integer(_ name: String) throws(JSONScanError) -> Int64? {
                let range = try cursor.skipValue(depth: 2)
                guard kind == .number, let value = cursor.integer(in: range) else {
                    note("\"\(name)\" must be an integer")
                    return nil
                }
                return value
            }
            if cursor.equals(start, end, "token") {
                item.token = try string("token")
            } else if cursor.equals(start, end, "payload") {
                let range = try cursor.skipValue(depth: 2)
                if kind == .object {
                    item.payload = range
                } else {
                    note("\"payload\" must be a JSON object, not \(kind.rawValue)")
                }
            } else if cursor.equals(start, end, "priority") {
                item.priority = try integer("priority")
            } else if cursor.equals(start, end, "expiration") {
                item.expiration = try integer("expiration")
            } else if cursor.equals(start, end, "topic") {
                item.topic = try string("topic")
            } else if cursor.equals(start, end, "pushType") {
                item.pushType = try string("pushType")
            } else if cursor.equals(start, end, "collapseId") {
                item.collapseID = try string("collapseId")
            } else if cursor.equals(start, end, "apnsId") {
                item.apnsID = try string("apnsId")
            } else if cursor.equals(start, end, "app") {
                item.app = try string("app")
            } else {
                let raw = UnsafeRawBufferPointer(rebasing: cursor.bytes[start..<min(end, start + 40)])
                note("unknown field \"\(String(decoding: raw, as: UTF8.self))\"")
                try cursor.skipValue(depth: 2)
            }
        } while try cursor.consume(UInt8(ascii: ","))
        try cursor.expect(UInt8(ascii: "}"))
        if item.problem == nil {
            if item.token == nil {
                item.problem = "missing \"token\""
            } else if item.payload == nil {
                item.problem = "missing \"payload\""
            }
        }
        return item
    }
}
