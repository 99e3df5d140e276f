/// Collects one request's header fields without allocating: names are static strings, values are copied
/// into a scratch buffer that the connection reuses from request to request.
///
/// The writer owns its storage (raw memory, grown by doubling when a request needs more, freed with the writer),
/// so a field costs a bounds check and a copy: no array uniqueness checks, no generic appends. That is a
/// request's header work before nghttp2, a few dozen nanoseconds per field.
public struct HTTP2HeaderWriter: ~Copyable {
    struct Field {
        var name: StaticString
        var valueOffset: Int
        var valueLength: Int
    }

    private var fieldStorage: UnsafeMutableBufferPointer<Field>
    private var byteStorage: UnsafeMutableRawBufferPointer
    /// Fields written so far.
    private(set) var fieldCount = 0
    /// Value bytes written so far.
    private(set) var byteCount = 0

    init() {
        fieldStorage = .allocate(capacity: 16)
        byteStorage = .allocate(byteCount: 1024, alignment: 8)
    }

    deinit {
        fieldStorage.deallocate()
        byteStorage.deallocate()
    }

    /// Forgets the fields written so far, keeping the storage for the next request.
    public mutating func reset() {
        fieldCount = 0
        byteCount = 0
    }

    /// Adds a field whose value is a string.
    public mutating func add(_ name: StaticString, _ value: String) {
        // In place where the string's bytes are contiguous (always, for a native string): no copy of the string,
        // so no retain and release of its storage, which the provider token's is shared by every connection.
        let done: Void? = value.utf8.withContiguousStorageIfAvailable { add(name, UnsafeRawBufferPointer($0)) }
        if done == nil {
            var value = value
            value.withUTF8 { add(name, UnsafeRawBufferPointer($0)) }
        }
    }

    /// Adds a field whose value is a static string.
    public mutating func add(_ name: StaticString, _ value: StaticString) {
        value.withUTF8Buffer { add(name, UnsafeRawBufferPointer($0)) }
    }

    /// Adds a field whose value is `prefix` followed by `value` (e.g. `/3/device/` and a token).
    public mutating func add(_ name: StaticString, prefix: StaticString, _ value: String) {
        let offset = byteCount
        prefix.withUTF8Buffer { append(UnsafeRawBufferPointer($0)) }
        let done: Void? = value.utf8.withContiguousStorageIfAvailable { append(UnsafeRawBufferPointer($0)) }
        if done == nil {
            var value = value
            value.withUTF8 { append(UnsafeRawBufferPointer($0)) }
        }
        appendField(name, offset: offset)
    }

    /// Adds a field whose value is `prefix` followed by `count` bytes that `body` writes into the storage itself
    /// (e.g. a device token's hex digits, encoded in place). `body` must write all `count`.
    public mutating func add(
        _ name: StaticString, prefix: StaticString, writing count: Int, _ body: (UnsafeMutableRawBufferPointer) -> Void
    ) {
        let offset = byteCount
        prefix.withUTF8Buffer { append(UnsafeRawBufferPointer($0)) }
        if byteCount + count > byteStorage.count {
            growBytes(toHold: byteCount + count)
        }
        body(UnsafeMutableRawBufferPointer(start: byteStorage.baseAddress! + byteCount, count: count))
        byteCount += count
        appendField(name, offset: offset)
    }

    /// Adds a field whose value is a decimal integer.
    public mutating func add(_ name: StaticString, decimal value: Int64) {
        // Digits from the right into a 20-byte scratch (Int64.min has 19 digits and a sign), then one copy.
        var magnitude = value.magnitude
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var start = 20
            repeat {
                start -= 1
                digits[start] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            if value < 0 {
                start -= 1
                digits[start] = UInt8(ascii: "-")
            }
            add(name, UnsafeRawBufferPointer(UnsafeMutableBufferPointer(rebasing: digits[start...])))
        }
    }

    /// Calls `body` with each field's name and value bytes, in the order written. The value pointers are valid
    /// until the next change of the writer.
    func forEachField(_ body: (StaticString, UnsafeRawBufferPointer) -> Void) {
        let base = UnsafeRawPointer(byteStorage.baseAddress!)
        for index in 0..<fieldCount {
            let field = fieldStorage[index]
            body(field.name, UnsafeRawBufferPointer(start: base + field.valueOffset, count: field.valueLength))
        }
    }

    /// The fields written so far, as (name, value) strings. For tests and diagnostics, not the hot path.
    public var fieldsForInspection: [HTTP2Header] {
        var headers: [HTTP2Header] = []
        forEachField { name, value in
            headers.append(HTTP2Header(name: name.description, value: String(decoding: value, as: UTF8.self)))
        }
        return headers
    }

    // MARK: Storage

    private mutating func add(_ name: StaticString, _ value: UnsafeRawBufferPointer) {
        let offset = byteCount
        append(value)
        appendField(name, offset: offset)
    }

    private mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        if byteCount + bytes.count > byteStorage.count {
            growBytes(toHold: byteCount + bytes.count)
        }
        (byteStorage.baseAddress! + byteCount).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        byteCount += bytes.count
    }

    private mutating func appendField(_ name: StaticString, offset: Int) {
        if fieldCount == fieldStorage.count {
            let larger = UnsafeMutableBufferPointer<Field>.allocate(capacity: fieldStorage.count * 2)
            _ = larger.initialize(fromContentsOf: fieldStorage)
            fieldStorage.deallocate()
            fieldStorage = larger
        }
        (fieldStorage.baseAddress! + fieldCount).initialize(to: Field(name: name, valueOffset: offset, valueLength: byteCount - offset))
        fieldCount += 1
    }

    private mutating func growBytes(toHold count: Int) {
        var capacity = byteStorage.count * 2
        while capacity < count { capacity *= 2 }
        let larger = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 8)
        larger.baseAddress!.copyMemory(from: byteStorage.baseAddress!, byteCount: byteCount)
        byteStorage.deallocate()
        byteStorage = larger
    }
}

extension HTTP2HeaderWriter {
    /// A fresh writer, for tests that check what an exchange writes.
    public static func forInspection() -> HTTP2HeaderWriter { HTTP2HeaderWriter() }
}
