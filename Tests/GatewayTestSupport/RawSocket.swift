import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Code the test targets share: a raw Unix-socket client and a way to run blocking work off the
/// cooperative pool.

/// A blocking Unix-socket connection for tests that need exact control of reading and writing (slow readers,
/// half-close). Use it from a thread of its own (``onThread(_:)``), never from the cooperative pool.
public final class RawSocket: Sendable {
    public let fd: Int32

    public init(path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RawSocketError("socket failed") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
            raw[bytes.count] = 0
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else {
            close(fd)
            throw RawSocketError("connect to \(path) failed: errno \(errno)")
        }
    }

    /// Writes everything; false when the peer is gone.
    @discardableResult
    public func write(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            if written <= 0 { return false }
            offset += written
        }
        return true
    }

    /// Reads up to `count` bytes; empty at end of stream.
    public func read(upTo count: Int) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        let got = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, count, 0) }
        return got > 0 ? Array(buffer[0..<got]) : []
    }

    /// Reads lines until `count` were read or the stream ends.
    public func readLines(_ count: Int) -> [String] {
        var lines: [String] = []
        var pending: [UInt8] = []
        while lines.count < count {
            let chunk = read(upTo: 65536)
            if chunk.isEmpty { break }
            pending += chunk
            while let newline = pending.firstIndex(of: 0x0A) {
                lines.append(String(decoding: pending[..<newline], as: UTF8.self))
                pending.removeSubrange(...newline)
            }
        }
        return lines
    }

    public func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    public func closeSocket() { close(fd) }
}

/// Why a ``RawSocket`` could not connect.
public struct RawSocketError: Error, CustomStringConvertible {
    public var description: String

    init(_ description: String) {
        self.description = description
    }
}

/// Runs blocking work on a thread of its own (never on the cooperative pool) and awaits its result.
public func onThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        let thread = Thread { continuation.resume(returning: work()) }
        thread.stackSize = 1 << 20
        thread.start()
    }
}
