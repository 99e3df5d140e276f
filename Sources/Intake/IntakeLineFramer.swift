import NIOCore

/// Splits an intake connection's input into request lines, within a bound: a value type, no I/O.
///
/// Lines end at `\n` (a `\r` before it is dropped); blank lines are skipped. A line longer than `maxLineBytes`
/// is not buffered: its bytes are dropped as they arrive, up to and including its newline, and ``next()``
/// reports it once as ``Next/tooLong``. So the buffer never holds more than about twice the longest allowed
/// line plus one read.
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

    init(maxLineBytes: Int) {
        self.maxLineBytes = maxLineBytes
    }

    /// Nothing is buffered: no complete line, and no start of one.
    var isEmpty: Bool { (input?.readableBytes ?? 0) == 0 }

    /// A complete line is buffered (one ``next()`` has not looked at yet, or has not reached).
    var hasCompleteLine: Bool {
        guard let input, input.readableBytes > searchedUpTo else { return false }
        return input.readableBytesView.dropFirst(searchedUpTo).contains(UInt8(ascii: "\n"))
    }

    /// Appends bytes read from the connection.
    mutating func append(_ bytes: ByteBuffer) {
        var bytes = bytes
        if var buffer = input, buffer.readableBytes > 0 {
            input = nil  // keeps the storage uniquely referenced, so appending does not copy it
            // Compact once the consumed part outweighs the rest: amortised linear, and the storage never grows
            // beyond about twice the longest line plus one read.
            if buffer.readerIndex >= buffer.readableBytes { buffer.discardReadBytes() }
            buffer.writeBuffer(&bytes)
            input = buffer
        } else {
            input = bytes
            searchedUpTo = 0
        }
    }

    /// The next complete, non-blank line, or an over-long line skipped on the way, or ``Next/none``.
    mutating func next() -> Next {
        guard var buffer = input else { return .none }
        input = nil  // keeps the storage uniquely referenced while the reader index moves
        while true {
            let view = buffer.readableBytesView
            let start = view.startIndex + searchedUpTo
            guard let newline = view[start...].firstIndex(of: UInt8(ascii: "\n")) else {
                if discarding || view.count > maxLineBytes {
                    discarding = true
                    searchedUpTo = 0
                } else {
                    searchedUpTo = view.count
                    input = buffer
                }
                return .none
            }
            let length = newline - view.startIndex
            if discarding || length > maxLineBytes {
                buffer.moveReaderIndex(forwardBy: length + 1)
                searchedUpTo = 0
                discarding = false
                input = buffer.readableBytes > 0 ? buffer : nil
                return .tooLong
            }
            var line = buffer.readSlice(length: length + 1)!
            line.moveWriterIndex(to: line.writerIndex - 1)
            if line.readableBytes > 0, line.getInteger(at: line.writerIndex - 1, as: UInt8.self) == 0x0D {
                line.moveWriterIndex(to: line.writerIndex - 1)
            }
            searchedUpTo = 0
            if Self.isBlank(line) { continue }
            input = buffer.readableBytes > 0 ? buffer : nil
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

    /// Drops everything buffered.
    mutating func clear() {
        input = nil
        searchedUpTo = 0
    }

    private static func isBlank(_ line: ByteBuffer) -> Bool {
        line.readableBytesView.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
    }
}
