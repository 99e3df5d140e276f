import APNs
import JSON
import NIOCore

/// The per-line work of a `send` outside the connection: scanning the line and copying the payloads out of it,
/// and writing the reply. The connection handler uses ``copy(_:_:)``; ``decodeSend(_:maxBatchSize:)`` and
/// ``encodeReply(id:results:)`` exist so that the micro-benchmarks can time exactly this work.
@_spi(Benchmarking)
public enum IntakeLineDecoding {
    /// Scans `line` as the intake does and copies the notifications' payloads out of it (into shared buffers of
    /// at most 32 KiB), as the connection does before handing them on. Returns the number of notifications with a payload, or -1
    /// when the line is not a `send`.
    public static func decodeSend(_ line: ByteBuffer, maxBatchSize: Int) -> Int {
        let request = line.withUnsafeReadableBytes { RequestScanner.scan($0, maxBatchSize: maxBatchSize) }
        guard case .send(_, let items) = request else { return -1 }
        var copied = 0
        for case let payload? in JSONObjectBytes.copying(items.map(\.payload), of: line) {
            copied += payload.buffer.readableBytes > 0 ? 1 : 0
        }
        return copied
    }

    /// Writes the reply of a `send` request with `results` as the connection does; returns its length in bytes.
    public static func encodeReply(id: ByteBuffer, results: [APNsResult]) -> Int {
        var buffer = ByteBufferAllocator().buffer(capacity: 64 + results.count * 48)
        ReplyWriter.results(id: id, results, into: &buffer)
        return buffer.readableBytes
    }

    /// A copy of `range` of the line's readable bytes, in storage of its own (not a slice), so that what
    /// stays in flight never pins the line's buffer.
    static func copy(_ line: ByteBuffer, _ range: Range<Int>) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(range.count)
        _ = line.withUnsafeReadableBytes { bytes in
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[range]))
        }
        return buffer
    }
}
