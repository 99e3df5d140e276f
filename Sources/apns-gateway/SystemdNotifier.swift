import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Tells systemd about the daemon's state (`Type=notify`): one datagram per message to the Unix socket named in
/// `$NOTIFY_SOCKET`, as sd_notify(3) does, without linking libsystemd. `READY=1` once the intake listens,
/// `STOPPING=1` when shutdown begins, `STATUS=…` lines for `systemctl status`.
///
/// Without `$NOTIFY_SOCKET` (not started by systemd, or not `Type=notify`) every call does nothing. A socket name
/// starting with `@` is in the abstract namespace. Failures are returned, never fatal: systemd's own timeout
/// reports a daemon that never became ready.
struct SystemdNotifier: Sendable {
    /// The socket's path (`@` first for the abstract namespace), or nil when there is none to notify.
    let socketPath: String?

    /// The notifier for `$NOTIFY_SOCKET`.
    static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> SystemdNotifier {
        SystemdNotifier(socketPath: environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 })
    }

    /// Whether there is a socket to notify.
    var isEnabled: Bool { socketPath != nil }

    /// Sends `state` (newline-separated `KEY=value` assignments) in one datagram; nil on success (or when there is
    /// no socket), else what failed.
    @discardableResult
    func notify(_ state: String) -> String? {
        guard let socketPath else { return nil }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var path = Array(socketPath.utf8)
        let abstract = path.first == UInt8(ascii: "@")
        if abstract { path[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard !path.isEmpty, path.count < capacity else {
            return "NOTIFY_SOCKET is \(path.count) bytes; at most \(capacity - 1) are possible"
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path)
        }
        // An abstract name is exactly its bytes; a path ends at its NUL.
        let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count + (abstract ? 0 : 1))
        #if canImport(Glibc)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #else
        let fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)
        #endif
        guard fd >= 0 else { return "socket(AF_UNIX, SOCK_DGRAM): \(String(cString: strerror(errno)))" }
        defer { close(fd) }
        let bytes = Array(state.utf8)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bytes.withUnsafeBytes { buffer in
                    sendto(fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL), socketAddress, length)
                }
            }
        }
        guard sent == bytes.count else {
            return "sending to NOTIFY_SOCKET \(socketPath): \(sent < 0 ? String(cString: strerror(errno)) : "short write")"
        }
        return nil
    }
}
