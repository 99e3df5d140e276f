/// Collects one request's header fields without allocating: names are static strings, values are copied
/// into a scratch buffer that the connection reuses from request to request.
public struct HTTP2HeaderWriter: ~Copyable {
    struct Field {
        var name: StaticString
        var valueOffset: Int
        var valueLength: Int
    }

    var fields: [Field] = []
    var bytes: [UInt8] = []

    init() {
        fields.reserveCapacity(16)
        bytes.reserveCapacity(1024)
    }

    /// Forgets the fields written so far, keeping the storage for the next request.
    public mutating func reset() {
        fields.removeAll(keepingCapacity: true)
        bytes.removeAll(keepingCapacity: true)
    }

    /// Adds a field whose value is a string.
    public mutating func add(_ name: StaticString, _ value: String) {
        let offset = bytes.count
        bytes.append(contentsOf: value.utf8)
        fields.append(Field(name: name, valueOffset: offset, valueLength: bytes.count - offset))
    }

    /// Adds a field whose value is a static string.
    public mutating func add(_ name: StaticString, _ value: StaticString) {
        let offset = bytes.count
        value.withUTF8Buffer { bytes.append(contentsOf: $0) }
        fields.append(Field(name: name, valueOffset: offset, valueLength: bytes.count - offset))
    }

    /// Adds a field whose value is `prefix` followed by `value` (e.g. `/3/device/` and a token).
    public mutating func add(_ name: StaticString, prefix: StaticString, _ value: String) {
        let offset = bytes.count
        prefix.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: value.utf8)
        fields.append(Field(name: name, valueOffset: offset, valueLength: bytes.count - offset))
    }

    /// Adds a field whose value is a decimal integer.
    public mutating func add(_ name: StaticString, decimal value: Int64) {
        let offset = bytes.count
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        // Most significant digit first, so nothing is reversed (reversing a slice in place can copy).
        var magnitude = value.magnitude
        var divisor: UInt64 = 1
        while divisor <= magnitude / 10 { divisor *= 10 }
        while divisor > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8(truncatingIfNeeded: magnitude / divisor))
            magnitude %= divisor
            divisor /= 10
        }
        fields.append(Field(name: name, valueOffset: offset, valueLength: bytes.count - offset))
    }

    /// The fields written so far, as (name, value) strings. For tests and diagnostics, not the hot path.
    public var fieldsForInspection: [HTTP2Header] {
        fields.map { field in
            HTTP2Header(
                name: field.name.description,
                value: String(decoding: bytes[field.valueOffset..<(field.valueOffset + field.valueLength)], as: UTF8.self)
            )
        }
    }
}

extension HTTP2HeaderWriter {
    /// A fresh writer, for tests that check what an exchange writes.
    public static func forInspection() -> HTTP2HeaderWriter { HTTP2HeaderWriter() }
}
