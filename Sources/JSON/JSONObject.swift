import NIOCore

/// One JSON value as received: its kind and its exact bytes (a slice of the text it came from).
public struct JSONValue: Sendable {
    /// The value's kind.
    public let kind: JSONKind
    /// The value's bytes exactly as received (already checked to be valid JSON).
    public let bytes: ByteBuffer

    /// Creates a view of a value already checked to be valid JSON of `kind`.
    init(kind: JSONKind, bytes: ByteBuffer) {
        self.kind = kind
        self.bytes = bytes
    }

    /// The decoded text of a string; nil for other kinds.
    public var string: String? {
        guard kind == .string else { return nil }
        return bytes.withUnsafeReadableBytes { raw in
            JSONString.decode(UnsafeRawBufferPointer(rebasing: raw[1..<(raw.count - 1)]))
        }
    }

    /// The integer a number holds; nil for other kinds, fractions, exponents and values beyond 64 bits.
    public var integer: Int64? {
        guard kind == .number else { return nil }
        return bytes.withUnsafeReadableBytes { JSONNumber.integer($0) }
    }

    /// A number's value; nil for other kinds.
    public var double: Double? {
        guard kind == .number else { return nil }
        return bytes.withUnsafeReadableBytes { JSONNumber.double($0) }
    }

    /// A boolean's value; nil for other kinds.
    public var bool: Bool? {
        guard kind == .bool else { return nil }
        return bytes.getInteger(at: bytes.readerIndex, as: UInt8.self) == UInt8(ascii: "t")
    }

    /// An object's members; nil for other kinds.
    public var object: JSONObject? {
        guard kind == .object else { return nil }
        return try? JSONObject(parsing: bytes)
    }

    /// An array's elements; nil for other kinds.
    public var elements: [JSONValue]? {
        guard kind == .array else { return nil }
        return bytes.withUnsafeReadableBytes { raw -> [JSONValue]? in
            var reader = JSONReader(raw)
            var elements: [JSONValue] = []
            do {
                try reader.beginArray()
                var first = true
                while try reader.nextElement(&first) {
                    let kind = try reader.peekKind()
                    let range = try reader.skipValue()
                    elements.append(JSONValue(kind: kind, bytes: slice(range)))
                }
            } catch {
                return nil
            }
            return elements
        }
    }

    private func slice(_ range: Range<Int>) -> ByteBuffer {
        bytes.getSlice(at: bytes.readerIndex + range.lowerBound, length: range.count)!
    }
}

/// A JSON object's members by name, each value kept as the bytes received: the decoded view of a request line
/// or a configuration file, made in one validating scan.
public struct JSONObject: Sendable {
    /// A member: its decoded key, its value's kind and byte range in ``text``.
    struct Member: Sendable {
        var key: String
        var kind: JSONKind
        var range: Range<Int>
    }

    /// The text the members point into (its readable bytes).
    let text: ByteBuffer
    var members: [Member]

    /// Scans a buffer that must hold exactly one JSON object (whitespace around it allowed).
    public init(parsing buffer: ByteBuffer) throws(JSONSyntaxError) {
        let result = buffer.withUnsafeReadableBytes { bytes -> Result<[Member], JSONSyntaxError> in
            var reader = JSONReader(bytes)
            do throws(JSONSyntaxError) {
                var members: [Member] = []
                try reader.beginObject()
                var first = true
                while let key = try reader.nextMember(&first) {
                    let name = reader.string(key)
                    let kind = try reader.peekKind()
                    members.append(Member(key: name, kind: kind, range: try reader.skipValue()))
                }
                try reader.expectEnd()
                return .success(members)
            } catch {
                return .failure(error)
            }
        }
        self.text = buffer
        self.members = try result.get()
    }

    /// A view of members found by someone else's scan of `text` (the intake's request scanner).
    init(text: ByteBuffer, members: [Member]) {
        self.text = text
        self.members = members
    }

    /// An object with no members.
    public static let empty = JSONObject(text: ByteBuffer(), members: [])

    /// The keys, in the order they appear (a repeated key once, where it last appears).
    public var keys: [String] {
        var seen = Set<String>()
        return members.reversed().filter { seen.insert($0.key).inserted }.reversed().map(\.key)
    }

    /// The value of `name` (the last one when the key is repeated, as JSON decoders do).
    public subscript(name: String) -> JSONValue? {
        guard let member = members.last(where: { $0.key == name }) else { return nil }
        return JSONValue(
            kind: member.kind,
            bytes: text.getSlice(at: text.readerIndex + member.range.lowerBound, length: member.range.count)!)
    }
}

/// Collects the top-level members of an object while a ``JSONReader`` walks it, so that a scan that reads some
/// members itself (the intake's) hands the rest on as a ``JSONObject`` without a second scan.
public struct JSONMemberCollector {
    private var members: [JSONObject.Member] = []

    public init() {}

    /// Records the member whose key the reader just returned and skips (and checks) its value.
    @discardableResult
    public mutating func skipValue(
        named key: JSONStringRange, _ reader: inout JSONReader
    ) throws(JSONSyntaxError) -> Range<Int> {
        let kind = try reader.peekKind()
        let range = try reader.skipValue()
        members.append(JSONObject.Member(key: reader.string(key), kind: kind, range: range))
        return range
    }

    /// Records a member whose value the caller read itself.
    public mutating func record(named key: JSONStringRange, kind: JSONKind, range: Range<Int>, _ reader: JSONReader) {
        members.append(JSONObject.Member(key: reader.string(key), kind: kind, range: range))
    }

    /// The object over `text`, the buffer whose readable bytes the reader walked.
    public func object(in text: ByteBuffer) -> JSONObject {
        JSONObject(text: text, members: members)
    }
}
