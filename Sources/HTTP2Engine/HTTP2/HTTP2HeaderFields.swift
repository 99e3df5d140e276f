/// Header fields in one byte array, as they arrived: for each field its name length and value length (4 bytes
/// each, little-endian), then the name and value bytes.
///
/// A response's fields cost one allocation however many there are, instead of an array plus a string per
/// name and value; strings are made only for the fields someone reads.
struct HTTP2HeaderFields: Sendable, Hashable {
    private(set) var bytes: [UInt8] = []

    init() {}

    init(_ headers: [HTTP2Header]) {
        for header in headers {
            var name = header.name
            var value = header.value
            name.withUTF8 { nameBytes in
                value.withUTF8 { valueBytes in
                    append(name: nameBytes, value: valueBytes)
                }
            }
        }
    }

    var isEmpty: Bool { bytes.isEmpty }

    /// Drops every field but keeps the storage, so that a recycled stream's next response appends without an
    /// allocation (once the last response that shared the storage is gone).
    mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
    }

    mutating func append(name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>) {
        if bytes.isEmpty {
            bytes.reserveCapacity(256)
        }
        let lengths = (UInt32(truncatingIfNeeded: name.count).littleEndian, UInt32(truncatingIfNeeded: value.count).littleEndian)
        withUnsafeBytes(of: lengths) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: name)
        bytes.append(contentsOf: value)
    }

    /// Every field, decoded.
    var decoded: [HTTP2Header] {
        var headers: [HTTP2Header] = []
        forEach { name, value in
            headers.append(HTTP2Header(
                name: String(decoding: name, as: UTF8.self),
                value: String(decoding: value, as: UTF8.self)
            ))
            return true
        }
        return headers
    }

    /// The value of the first field called `name`.
    func first(named name: String) -> String? {
        var found: String?
        first(named: name) { found = String(decoding: $0, as: UTF8.self) }
        return found
    }

    /// Calls `body` with the bytes of the value of the first field called `name`, if there is one.
    func first(named name: String, _ body: (UnsafeRawBufferPointer) -> Void) {
        var name = name
        name.withUTF8 { wanted in
            forEach { fieldName, value in
                guard fieldName.count == wanted.count, fieldName.elementsEqual(wanted) else { return true }
                body(UnsafeRawBufferPointer(value))
                return false
            }
        }
    }

    /// Calls `body` with each field's name and value until it returns false.
    private func forEach(_ body: (UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>) -> Bool) {
        bytes.withUnsafeBufferPointer { all in
            var offset = 0
            while offset + 8 <= all.count {
                let nameLength = Self.readLength(all, at: offset)
                let valueLength = Self.readLength(all, at: offset + 4)
                let nameStart = offset + 8
                let valueStart = nameStart + nameLength
                offset = valueStart + valueLength
                guard offset <= all.count else { return }
                let keepGoing = body(
                    UnsafeBufferPointer(rebasing: all[nameStart..<valueStart]),
                    UnsafeBufferPointer(rebasing: all[valueStart..<offset])
                )
                if !keepGoing { return }
            }
        }
    }

    private static func readLength(_ bytes: UnsafeBufferPointer<UInt8>, at offset: Int) -> Int {
        Int(bytes[offset]) | Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2]) << 16 | Int(bytes[offset + 3]) << 24
    }
}
