import NIOCore
import Intake

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

    /// A JSON string, escaped as the intake's own replies are.
    static func writeString(_ string: String, into buffer: inout ByteBuffer) {
        ReplyWriter.writeString(string, into: &buffer)
    }
}
