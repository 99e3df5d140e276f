#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

/// Splits an intake connection's input into request lines, within a bound: a value type, no I/O.
///
/// Lines end at `\n` (a `\r` before it is dropped); blank lines are skipped. A line longer than `maxLineBytes`
/// is not buffered: its bytes are dropped as they arrive, up to and including its newline, and ``next()``
/// reports it once as ``Next/tooLong``. So the buffer never holds more than about twice the longest allowed
/// line plus one read.
///
/// Long lines (``longLine`` and more) reuse their storage: the next line is gathered in the storage of the last
/// long line once that line has been dropped (its batch handed on; the intake copies what it keeps out of a line),
/// so a connection that sends long lines holds one buffer of about a line, not a fresh one per line. A fresh block
/// of a megabyte or more comes from a mapping of its own (glibc's mmap threshold), and filling it costs a page
/// fault per 4 KiB: with 4 KiB payloads, one per notification, a fifth of the daemon's CPU. The storage is let go
/// when a short line comes, and with the framer. (A line kept beyond the next append still works: the append then
/// copies.)
struct IntakeLineFramer {
    /// What ``next()`` found.
    enum Next: Equatable {
        /// A complete line, without its newline (and without a `\r` before it).
        case line(ByteBuffer)
        /// An over-long line was skipped up to its newline: answer `LineTooLong`.
        case tooLong
        /// No complete line is buffered.
        case none
    }

    let maxLineBytes: Int
    private var input: ByteBuffer?
    /// Where the newline search resumes in `input` (relative to its reader index).
    private var searchedUpTo = 0
    /// Skipping the rest of an over-long line.
    private(set) var discarding = false
    /// The length of the last complete line: a client's lines tend to be alike, so a line that outgrows its
    /// buffer gets room for that much at once.
    private var lastLineLength = 0
    /// From this length on a line counts as long (see ``next()``).
    private static let longLine = 64 * 1024
    /// The storage of the last long line handed out, to gather the next long line in once that line is dropped.
    private var spare: ByteBuffer?

    init(maxLineBytes: Int) {
        self.maxLineBytes = maxLineBytes
    }

    /// Nothing is buffered: no complete line, and no start of one.
    var isEmpty: Bool { (input?.readableBytes ?? 0) == 0 }

    /// A complete line is buffered (one ``next()`` has not looked at yet, or has not reached).
    var hasCompleteLine: Bool {
        guard let input else { return false }
        return Self.newline(in: input, from: searchedUpTo) != nil
    }

    /// Appends bytes read from the connection.
    mutating func append(_ bytes: ByteBuffer) {
        var bytes = bytes
        if var buffer = input, buffer.readableBytes > 0 {
            input = nil  // keeps the storage uniquely referenced, so appending does not copy it
            // Compact once the consumed part outweighs the rest: amortised linear, and the storage never grows
            // beyond about twice the longest line plus one read.
            if buffer.readerIndex >= buffer.readableBytes { buffer.discardReadBytes() }
            if buffer.writableBytes < bytes.readableBytes {
                // A long line in the making: grow once to about the last line's length rather than doubling
                // from one read's size up (each step copies all so far into a fresh, page-faulted block).
                let expected = Swift.min(lastLineLength, maxLineBytes) + 1 - buffer.readableBytes
                buffer.reserveCapacity(minimumWritableBytes: Swift.max(bytes.readableBytes, expected))
            }
            buffer.writeBuffer(&bytes)
            input = buffer
        } else if lastLineLength >= Self.longLine, var buffer = takeSpare(capacity: Swift.min(lastLineLength, maxLineBytes) + 1) {
            // Another long line is likely: gather it in the kept storage rather than in the read's buffer, which
            // would grow into a fresh block.
            buffer.writeBuffer(&bytes)
            input = buffer
            searchedUpTo = 0
        } else {
            input = bytes
            searchedUpTo = 0
        }
    }

    /// The kept storage, emptied, with room for `capacity` bytes; nil when there is none. When the line it held is
    /// still referenced, `clear` leaves the storage to that line and allocates a fresh one.
    private mutating func takeSpare(capacity: Int) -> ByteBuffer? {
        guard var buffer = spare else { return nil }
        spare = nil
        buffer.clear(minimumCapacity: capacity)
        return buffer
    }

    /// The next complete, non-blank line, or an over-long line skipped on the way, or ``Next/none``.
    mutating func next() -> Next {
        guard var buffer = input else { return .none }
        input = nil  // keeps the storage uniquely referenced while the reader index moves
        while true {
            let readable = buffer.readableBytes
            guard let length = Self.newline(in: buffer, from: searchedUpTo) else {
                if discarding || readable > maxLineBytes {
                    discarding = true
                    searchedUpTo = 0
                } else {
                    searchedUpTo = readable
                    input = buffer
                }
                return .none
            }
            if discarding || length > maxLineBytes {
                buffer.moveReaderIndex(forwardBy: length + 1)
                searchedUpTo = 0
                discarding = false
                input = buffer.readableBytes > 0 ? buffer : nil
                return .tooLong
            }
            lastLineLength = length
            var line = buffer.readSlice(length: length + 1)!
            line.moveWriterIndex(to: line.writerIndex - 1)
            if line.readableBytes > 0, line.getInteger(at: line.writerIndex - 1, as: UInt8.self) == 0x0D {
                line.moveWriterIndex(to: line.writerIndex - 1)
            }
            searchedUpTo = 0
            if Self.isBlank(line) { continue }
            if length < Self.longLine {
                spare = nil
                input = buffer.readableBytes > 0 ? buffer : nil
                return .line(line)
            }
            // A long line: its storage serves the next line too. The line is dropped before the next append (the
            // intake copies what it keeps out of a line while handling it), so that append finds the storage
            // uniquely referenced, moves the start of the next line to the front in place and gathers the rest
            // behind it, in memory already touched.
            if buffer.readableBytes == 0 {
                input = nil
                spare = buffer
            } else {
                input = buffer
            }
            return .line(line)
        }
    }

    /// At the end of input: the last line when it has no newline (as it is: not trimmed, blank or not),
    /// unless it is being skipped as over-long. Empties the framer.
    mutating func takeRest() -> ByteBuffer? {
        defer { clear() }
        guard let rest = input, rest.readableBytes > 0, !discarding else { return nil }
        return rest
    }

    /// Drops everything buffered, and the kept storage.
    mutating func clear() {
        input = nil
        spare = nil
        searchedUpTo = 0
    }

    /// The offset of the first newline in `buffer`'s readable bytes at or after `offset` (memchr: lines of a
    /// batch run to megabytes, and a byte-at-a-time search showed in profiles).
    private static func newline(in buffer: ByteBuffer, from offset: Int) -> Int? {
        buffer.withUnsafeReadableBytes { bytes in
            guard offset < bytes.count, let base = bytes.baseAddress,
                let found = memchr(base + offset, 0x0A, bytes.count - offset)
            else { return nil }
            return base.distance(to: UnsafeRawPointer(found))
        }
    }

    private static func isBlank(_ line: ByteBuffer) -> Bool {
        line.readableBytesView.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
    }
}
