import NIOCore

/// Where a ``JSONReader`` found an object it has checked in full: made only by the reader.
public struct JSONObjectRange: Sendable, Hashable {
    /// The object's byte range in the text the reader walked.
    public let range: Range<Int>

    init(range: Range<Int>) {
        self.range = range
    }
}

/// The bytes of one JSON object already checked by this module's scanner: a payload that carries its scan with
/// it, so that nothing scans it a second time on its way out.
public struct JSONObjectBytes: Sendable, Hashable {
    /// The object's bytes.
    public let buffer: ByteBuffer

    /// Checks that `buffer` holds exactly one JSON object (whitespace around it allowed).
    public init(validating buffer: ByteBuffer) throws(JSONSyntaxError) {
        try JSONReader.validateObject(buffer)
        self.buffer = buffer
    }

    /// A copy, in storage of its own, of the object a reader found in `text`, the buffer whose readable bytes
    /// that reader walked.
    public init(copying object: JSONObjectRange, of text: ByteBuffer) {
        var copy = ByteBufferAllocator().buffer(capacity: object.range.count)
        text.withUnsafeReadableBytes { bytes in
            copy.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[object.range]))
        }
        self.buffer = copy
    }

    private init(checked buffer: ByteBuffer) {
        self.buffer = buffer
    }

    /// Copies, in storage of their own, the objects a reader found in `text` (the buffer whose readable bytes that
    /// reader walked): all of them into one buffer, one allocation for the lot, each returned as a slice of it in
    /// the order given (nil stays nil). The buffer lives as long as any of the slices.
    public static func copying(_ objects: [JSONObjectRange?], of text: ByteBuffer) -> [JSONObjectBytes?] {
        var total = 0
        for case let object? in objects { total += object.range.count }
        var storage = ByteBufferAllocator().buffer(capacity: total)
        text.withUnsafeReadableBytes { bytes in
            for case let object? in objects {
                storage.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[object.range]))
            }
        }
        return objects.map { object in
            guard let object else { return nil }
            return JSONObjectBytes(checked: storage.readSlice(length: object.range.count)!)
        }
    }
}

extension JSONReader {
    /// Checks and skips an object (the next value); returns where it lies, as proof of the check.
    public mutating func skipObject() throws(JSONSyntaxError) -> JSONObjectRange {
        guard try peekKind() == .object else {
            throw JSONSyntaxError(offset: offset, problem: JSONProblem.notAnObject.message)
        }
        return JSONObjectRange(range: try skipValue())
    }
}
