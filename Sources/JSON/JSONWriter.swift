import NIOCore

/// Writes JSON straight into a `ByteBuffer`: members and elements with their commas, nested objects and arrays
/// opened and closed explicitly, strings through ``JSONString``, raw JSON copied as given.
///
/// Member names are static strings (written without a scan for escapes); names known only at run time go
/// through the `dynamic:` variants. A writer made with ``init(members:)`` writes the members of an object whose braces someone else writes (the
/// intake writes `{"id":…,` and `}` around an op's reply). Nesting is limited to 64 levels.
public struct JSONWriter: Sendable {
    /// What has been written.
    public var buffer: ByteBuffer
    /// One bit per open level (bit 0 the outermost): whether the next member or element needs a comma.
    private var commas: UInt64 = 0
    private var depth = 0
    /// A key was just written: the next value is its value, with no comma before it.
    private var afterKey = false

    /// A writer that appends to `buffer` at the level of an object's members (no braces of its own).
    public init(members buffer: ByteBuffer) {
        self.buffer = buffer
    }

    /// A writer of members into a new buffer of the given capacity.
    public init(capacity: Int = 256) {
        self.init(members: ByteBufferAllocator().buffer(capacity: capacity))
    }

    // MARK: Members

    /// Writes `"name":`, with a comma first unless it is the first member of its object.
    public mutating func key(_ name: StaticString) {
        writeKey(name)
        afterKey = true
    }

    /// Writes `"name":` for a name known only at run time (escaped as needed).
    public mutating func key(dynamic name: String) {
        writeKey(dynamic: name)
        afterKey = true
    }

    public mutating func string(_ name: StaticString, _ value: String) {
        writeKey(name)
        JSONString.write(value, into: &buffer)
    }

    public mutating func int(_ name: StaticString, _ value: Int64) {
        writeKey(name)
        Self.writeInteger(value, into: &buffer)
    }

    public mutating func int(_ name: StaticString, _ value: Int) {
        int(name, Int64(value))
    }

    public mutating func int(dynamic name: String, _ value: Int) {
        writeKey(dynamic: name)
        Self.writeInteger(Int64(value), into: &buffer)
    }

    public mutating func bool(_ name: StaticString, _ value: Bool) {
        writeKey(name)
        buffer.writeStaticString(value ? "true" : "false")
    }

    /// A number; non-finite values (which JSON cannot hold) are written as 0.
    public mutating func double(_ name: StaticString, _ value: Double) {
        writeKey(name)
        buffer.writeString(value.isFinite ? "\(value)" : "0")
    }

    /// An array of integers.
    public mutating func ints(_ name: StaticString, _ values: [Int]) {
        beginArray(name)
        for value in values { element(value) }
        endArray()
    }

    /// A whole member already rendered, `"name":value`, written as given (with its comma): for members whose
    /// value is one of a few constants.
    public mutating func member(rendered: StaticString) {
        comma()
        buffer.writeStaticString(rendered)
    }

    /// A member whose value is already JSON, copied as given.
    public mutating func raw(_ name: StaticString, _ value: ByteBuffer) {
        writeKey(name)
        buffer.writeImmutableBuffer(value)
    }

    public mutating func beginObject(_ name: StaticString) {
        writeKey(name)
        open(UInt8(ascii: "{"))
    }

    public mutating func beginObject(dynamic name: String) {
        writeKey(dynamic: name)
        open(UInt8(ascii: "{"))
    }

    public mutating func beginArray(_ name: StaticString) {
        writeKey(name)
        open(UInt8(ascii: "["))
    }

    // MARK: Values: after a key (``key(_:)``, ``key(dynamic:)``) or as array elements

    /// A string value for the key just written.
    public mutating func stringValue(_ value: String) {
        comma()
        JSONString.write(value, into: &buffer)
    }

    /// A value that is already JSON, for the key just written.
    public mutating func rawValue(_ value: ByteBuffer) {
        comma()
        buffer.writeImmutableBuffer(value)
    }

    // MARK: Elements

    public mutating func beginObject() {
        comma()
        open(UInt8(ascii: "{"))
    }

    public mutating func beginArray() {
        comma()
        open(UInt8(ascii: "["))
    }

    public mutating func element(_ value: String) {
        comma()
        JSONString.write(value, into: &buffer)
    }

    public mutating func element(_ value: Int) {
        comma()
        Self.writeInteger(Int64(value), into: &buffer)
    }

    public mutating func endObject() {
        close(UInt8(ascii: "}"))
    }

    public mutating func endArray() {
        close(UInt8(ascii: "]"))
    }

    // MARK: Plumbing

    /// Writes `value` in decimal.
    public static func writeInteger(_ value: Int64, into buffer: inout ByteBuffer) {
        if value >= 0 && value < 10 {
            buffer.writeInteger(UInt8(truncatingIfNeeded: value) &+ 0x30)
            return
        }
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: maximumIntegerLength) { memory in
            writeInteger(value, to: memory.baseAddress!)
        }
    }

    /// The most bytes ``writeInteger(_:to:)`` writes: 19 digits and a sign.
    public static let maximumIntegerLength = 20

    /// Writes `value` in decimal at `destination`, which has room for ``maximumIntegerLength`` bytes; returns the
    /// bytes written.
    public static func writeInteger(_ value: Int64, to destination: UnsafeMutableRawPointer) -> Int {
        var count = 0
        if value < 0 {
            destination.storeBytes(of: UInt8(ascii: "-"), as: UInt8.self)
            count = 1
        }
        var magnitude = value.magnitude
        var digits = 1
        var rest = magnitude / 10
        while rest > 0 {
            digits += 1
            rest /= 10
        }
        count += digits
        var position = count
        repeat {
            position -= 1
            destination.storeBytes(of: UInt8(truncatingIfNeeded: magnitude % 10) &+ 0x30, toByteOffset: position, as: UInt8.self)
            magnitude /= 10
        } while magnitude > 0
        return count
    }

    private mutating func writeKey(_ name: StaticString) {
        comma()
        buffer.writeInteger(UInt8(ascii: "\""))
        buffer.writeStaticString(name)
        buffer.writeStaticString("\":")
    }

    private mutating func writeKey(dynamic name: String) {
        comma()
        JSONString.write(name, into: &buffer)
        buffer.writeInteger(UInt8(ascii: ":"))
    }

    private mutating func comma() {
        if afterKey {
            afterKey = false
            return
        }
        let bit: UInt64 = 1 << UInt64(depth)
        if commas & bit != 0 { buffer.writeInteger(UInt8(ascii: ",")) }
        commas |= bit
    }

    private mutating func open(_ byte: UInt8) {
        precondition(depth < 63, "JSONWriter nests at most 63 levels")
        buffer.writeInteger(byte)
        depth += 1
        commas &= ~(1 << UInt64(depth))
    }

    private mutating func close(_ byte: UInt8) {
        precondition(depth > 0, "JSONWriter: close without open")
        depth -= 1
        buffer.writeInteger(byte)
    }
}
