import NIOCore

/// Writes the members of a reply object straight into a `ByteBuffer`: no braces at the top level (the
/// intake adds `{"id":...,` and `}`), nested objects and arrays opened and closed explicitly.
struct JSONMembersWriter {
    private(set) var buffer: ByteBuffer
    /// One entry per open level: whether the next member or element needs a comma first.
    private var needsComma: [Bool] = [false]

    init(capacity: Int = 256) {
        buffer = ByteBufferAllocator().buffer(capacity: capacity)
    }

    // MARK: Members (inside an object or at the top level)

    mutating func string(_ name: String, _ value: String) {
        key(name)
        Self.writeString(value, into: &buffer)
    }

    mutating func int(_ name: String, _ value: Int64) {
        key(name)
        buffer.writeString(String(value))
    }

    mutating func int(_ name: String, _ value: Int) {
        int(name, Int64(value))
    }

    mutating func bool(_ name: String, _ value: Bool) {
        key(name)
        buffer.writeString(value ? "true" : "false")
    }

    /// A member whose value is already JSON.
    mutating func raw(_ name: String, _ value: ByteBuffer) {
        key(name)
        var value = value
        buffer.writeBuffer(&value)
    }

    mutating func beginObject(_ name: String) {
        key(name)
        open(UInt8(ascii: "{"))
    }

    mutating func beginArray(_ name: String) {
        key(name)
        open(UInt8(ascii: "["))
    }

    // MARK: Elements (inside an array)

    mutating func beginObject() {
        comma()
        open(UInt8(ascii: "{"))
    }

    mutating func element(_ value: String) {
        comma()
        Self.writeString(value, into: &buffer)
    }

    mutating func endObject() {
        close(UInt8(ascii: "}"))
    }

    mutating func endArray() {
        close(UInt8(ascii: "]"))
    }

    // MARK: Plumbing

    private mutating func comma() {
        if needsComma[needsComma.count - 1] { buffer.writeInteger(UInt8(ascii: ",")) }
        needsComma[needsComma.count - 1] = true
    }

    private mutating func key(_ name: String) {
        comma()
        Self.writeString(name, into: &buffer)
        buffer.writeInteger(UInt8(ascii: ":"))
    }

    private mutating func open(_ byte: UInt8) {
        buffer.writeInteger(byte)
        needsComma.append(false)
    }

    private mutating func close(_ byte: UInt8) {
        needsComma.removeLast()
        buffer.writeInteger(byte)
    }

    /// A JSON string: `"`, `\` and control characters escaped, everything else copied.
    static func writeString(_ string: String, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): buffer.writeStaticString("\\\"")
            case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
            case 0x0A: buffer.writeStaticString("\\n")
            case 0x0D: buffer.writeStaticString("\\r")
            case 0x09: buffer.writeStaticString("\\t")
            case 0..<0x20:
                let digits = Array("0123456789abcdef".utf8)
                buffer.writeStaticString("\\u00")
                buffer.writeInteger(digits[Int(byte >> 4)])
                buffer.writeInteger(digits[Int(byte & 15)])
            default: buffer.writeInteger(byte)
            }
        }
        buffer.writeInteger(UInt8(ascii: "\""))
    }
}
