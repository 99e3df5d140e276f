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

    private init(checked buffer: ByteBuffer) {
        self.buffer = buffer
    }

    /// Copies, in storage of their own, the objects a reader found in `text` (the buffer whose readable bytes that
    /// reader walked), in the order given (nil stays nil): consecutive objects share one buffer of up to
    /// `chunkBytes` (an object larger than that gets one of its own), and each comes back as a slice of its buffer.
    /// A buffer lives as long as any of its slices.
    ///
    /// A few allocations for a request's payloads instead of one per payload; and buffers of at most 32 KiB come
    /// from malloc's heap, not from a mapping of their own (glibc maps blocks of 128 KiB and more, and touching a
    /// fresh mapping costs a page fault per 4 KiB).
    public static func copying(
        _ objects: [JSONObjectRange?], of text: ByteBuffer, chunkBytes: Int = 32 * 1024
    ) -> [JSONObjectBytes?] {
        text.withUnsafeReadableBytes { bytes in
            var copies: [JSONObjectBytes?] = []
            copies.reserveCapacity(objects.count)
            var start = 0
            while start < objects.count {
                // The next run of objects that share a buffer.
                var end = start
                var total = 0
                while end < objects.count {
                    if let object = objects[end] {
                        if total > 0 && total + object.range.count > chunkBytes { break }
                        total += object.range.count
                    }
                    end += 1
                }
                // All of the run's bytes first, then the slices: a write after a slice would copy the buffer.
                var storage = ByteBufferAllocator().buffer(capacity: total)
                for case let object? in objects[start..<end] {
                    storage.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[object.range]))
                }
                for object in objects[start..<end] {
                    copies.append(object.map { JSONObjectBytes(checked: storage.readSlice(length: $0.range.count)!) })
                }
                start = end
            }
            return copies
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
