#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import NIOConcurrencyHelpers

/// An append-only text log of what the mock did with every request, for a process outside the mock
/// (a fault campaign counting how often each notification was delivered).
///
/// One line per event, fields separated by one space:
///
/// ```
/// <ms since the epoch> <apns-id or -> <outcome> <connection> <device token or ->
/// ```
///
/// `outcome` is the `:status` answered (`200`, `410`, `503`, ...), `reset` (RST_STREAM instead of an
/// answer), `lost` (received completely but never answered: the connection was dropped or stalled, so
/// the client cannot know whether it was delivered), `refused` (above the last-stream-id of the mock's
/// GOAWAY: not processed, as HTTP/2 promises), and for connection events, with `-` as the apns-id,
/// `connect` (a TCP connection accepted) and `goaway` (a GOAWAY sent). The apns-id is the one the
/// request carried (lowercased) or the one the mock made for it.
///
/// Lines are written with `write(2)` as each read batch is decided, before its answers are sent: a
/// client that saw an answer finds it in the file, even when the mock is killed with SIGKILL right after.
///
/// Maintainer's note: `Sendable`; one lock orders whole writes from all event loops.
final class MockRecordFile: Sendable {
    private let descriptor: Int32
    private let lock = NIOLock()

    /// Opens (creating or appending to) the file at `path`.
    init(path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw MockAPNsError("cannot open the record file \(path): errno \(errno)")
        }
        self.descriptor = descriptor
    }

    deinit {
        close(self.descriptor)
    }

    /// Writes `bytes` (whole lines) in one go; a failed write is dropped (the mock keeps serving).
    func append(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        self.lock.withLock {
            bytes.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let written = write(self.descriptor, raw.baseAddress! + offset, raw.count - offset)
                    if written > 0 {
                        offset += written
                    } else if written < 0 && errno == EINTR {
                        continue
                    } else {
                        return
                    }
                }
            }
        }
    }

    /// Milliseconds since the epoch.
    static func now() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) * 1000 + Int64(time.tv_nsec) / 1_000_000
    }

    /// Appends one line to `lines` (not yet written).
    static func line(
        into lines: inout [UInt8],
        milliseconds: Int64,
        apnsID: String,
        outcome: String,
        connectionID: Int,
        deviceToken: Substring? = nil
    ) {
        lines.append(contentsOf: String(milliseconds).utf8)
        lines.append(UInt8(ascii: " "))
        if apnsID.isEmpty {
            lines.append(UInt8(ascii: "-"))
        } else {
            lines.append(contentsOf: apnsID.utf8)
        }
        lines.append(UInt8(ascii: " "))
        lines.append(contentsOf: outcome.utf8)
        lines.append(UInt8(ascii: " "))
        lines.append(contentsOf: String(connectionID).utf8)
        lines.append(UInt8(ascii: " "))
        // The path's token, if it is one word of hex (anything else is shown as -, so a line stays 5 fields).
        if let deviceToken, !deviceToken.isEmpty, deviceToken.utf8.allSatisfy({ $0.isHexDigitASCII }) {
            lines.append(contentsOf: deviceToken.utf8)
        } else {
            lines.append(UInt8(ascii: "-"))
        }
        lines.append(UInt8(ascii: "\n"))
    }
}

extension UInt8 {
    fileprivate var isHexDigitASCII: Bool {
        (0x30...0x39).contains(self) || (0x41...0x46).contains(self) || (0x61...0x66).contains(self)
    }
}
