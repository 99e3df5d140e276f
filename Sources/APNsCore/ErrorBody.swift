import JSON
import NIOCore

/// The fields of an APNs error body, `{"reason": "...", "timestamp": ...}`, which APNs sends with
/// every non-200 response and in the debug data of a GOAWAY frame.
public struct APNsErrorBody: Sendable, Hashable {
    /// The most raw text of a malformed body kept in ``APNsReason/unknown(_:)``, in bytes.
    public static let maxUnknownTextLength = 128

    /// The `reason`, if any.
    public var reason: APNsReason?
    /// The `timestamp` (milliseconds since the epoch; sent with 410), if any.
    public var timestamp: Int64?

    /// Creates a body from its fields.
    public init(reason: APNsReason?, timestamp: Int64?) {
        self.reason = reason
        self.timestamp = timestamp
    }

    /// Reads an error body; never fails.
    ///
    /// - Empty or whitespace-only: no reason, no timestamp.
    /// - A JSON object: `reason` (a string) and `timestamp` (a number, or a string of digits) are
    ///   taken; other keys, any whitespace and key order are ignored.
    /// - Anything else (not JSON, not an object, `reason` not a string, broken after the keys that
    ///   were read): if no reason was read, the reason is the raw text, trimmed and cut to
    ///   ``maxUnknownTextLength`` bytes, through ``APNsReason/init(rawValue:)`` (so a bare
    ///   `Shutdown` still maps to its case; other text becomes ``APNsReason/unknown(_:)``).
    public init(parsing body: ByteBuffer) {
        self = body.withUnsafeReadableBytes { APNsErrorBody.parse($0) }
    }

    static func parse(_ bytes: UnsafeRawBufferPointer) -> APNsErrorBody {
        var body = APNsErrorBody(reason: nil, timestamp: nil)
        guard bytes.contains(where: { !isBlank($0) }) else { return body }
        var reader = JSONReader(bytes)
        let wellFormed = (try? body.readObject(&reader)) != nil
        if body.reason == nil && !wellFormed {
            body.reason = APNsReason(rawValue: rawText(bytes))
        }
        return body
    }

    /// Reads the object's members into `self`; throws where it is malformed, after the members before that
    /// point were read. A reason that is not a string counts as malformed.
    private mutating func readObject(_ reader: inout JSONReader) throws(JSONSyntaxError) {
        try reader.beginObject()
        var first = true
        while let key = try reader.nextMember(&first) {
            let kind = try reader.peekKind()
            if reader.equals(key, "reason") {
                guard kind == .string else { throw JSONSyntaxError(offset: reader.offset, problem: "reason is not a string") }
                self.reason = APNsReason(rawValue: try reader.readString())
            } else if reader.equals(key, "timestamp") {
                let range = try reader.skipValue()
                self.timestamp = parseTimestamp(UnsafeRawBufferPointer(rebasing: reader.bytes[range]), isString: kind == .string)
            } else {
                try reader.skipValue()
            }
        }
        try reader.expectEnd()
    }
}

private func isBlank(_ byte: UInt8) -> Bool {
    byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\t")
}

/// The body as text for ``APNsReason/unknown(_:)``: whitespace-trimmed, cut to
/// ``APNsErrorBody/maxUnknownTextLength`` bytes, invalid UTF-8 repaired.
private func rawText(_ bytes: UnsafeRawBufferPointer) -> String {
    guard let start = bytes.firstIndex(where: { !isBlank($0) }),
        let last = bytes.lastIndex(where: { !isBlank($0) })
    else { return "" }
    let end = min(last + 1, start + APNsErrorBody.maxUnknownTextLength)
    return String(decoding: bytes[start..<end], as: UTF8.self)
}

/// A timestamp from a JSON number (or a string of digits when `isString`): integers exactly,
/// fractions and exponents through `Double`; `nil` if out of range or not a number.
private func parseTimestamp(_ value: UnsafeRawBufferPointer, isString: Bool) -> Int64? {
    var number = value
    if isString {
        guard number.count >= 2 else { return nil }
        number = UnsafeRawBufferPointer(rebasing: number[1..<(number.count - 1)])
    }
    if let integer = JSONNumber.integer(number) { return integer }
    // A string's digits only; a number may have a fraction or an exponent.
    guard !isString, let double = JSONNumber.double(number), double >= -9.2e18, double <= 9.2e18 else { return nil }
    return Int64(double)
}
