#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Safe start for the intake socket path: refuse when a live gateway owns it, clear it when stale.
enum SocketPath {
    /// Checks `path` before binding: nothing there is fine; a socket file nobody accepts on is removed; a
    /// socket someone accepts on, or a file that is not a socket, is refused.
    static func prepare(_ path: String) throws {
        guard path.utf8.count < 104 else {
            throw IntakeError("socket path \(path) is \(path.utf8.count) bytes; Unix socket paths must be under 104")
        }
        let parent = String(path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).dropLast()
            .map { String(decoding: $0, as: UTF8.self) }.joined(separator: "/"))
        if !parent.isEmpty {
            try makeDirectory(parent)
        }
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard (info.st_mode & S_IFMT) == S_IFSOCK else {
            throw IntakeError("\(path) exists and is not a socket; refusing to replace it")
        }
        if isListening(path) {
            throw IntakeError("another process (a running gateway?) is listening on \(path); refusing to start")
        }
        guard unlink(path) == 0 else {
            throw IntakeError("cannot remove the stale socket file \(path) (errno \(errno))")
        }
    }

    /// Creates `path` and its missing parents (mode 0750).
    private static func makeDirectory(_ path: String) throws {
        var info = stat()
        if stat(path, &info) == 0 { return }
        let parent = String(path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).dropLast()
            .map { String(decoding: $0, as: UTF8.self) }.joined(separator: "/"))
        if !parent.isEmpty { try makeDirectory(parent) }
        if mkdir(path, 0o750) != 0 && errno != EEXIST {
            throw IntakeError("cannot create the socket's folder \(path) (errno \(errno))")
        }
    }

    /// True when a connect to the socket at `path` succeeds.
    static func isListening(_ path: String) -> Bool {
        #if canImport(Darwin)
        let fd = socket(AF_UNIX, SOCK_STREAM, 0)
        #else
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #endif
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        let bytes = Array(path.utf8)
        guard bytes.count < capacity else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
            raw[bytes.count] = 0
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return result == 0
    }
}
