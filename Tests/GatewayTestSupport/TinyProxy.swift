import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Debian's `tinyproxy` (an HTTP proxy with `CONNECT`) run by a test on a free loopback port with a generated
/// configuration, and stopped by ``stop()`` (or when released).
public final class TinyProxy: @unchecked Sendable {
    /// Where Debian installs it.
    public static let executable = "/usr/bin/tinyproxy"

    public let port: Int
    private let folder: String
    private var pid: pid_t = 0
    private var stopped = false

    /// Starts the proxy, requiring `Proxy-Authorization: Basic` for `credentials` (user, password) when given,
    /// and returns once it accepts connections.
    public init(credentials: (user: String, password: String)? = nil) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.executable) else {
            throw TinyProxyError("\(Self.executable) is missing: apt-get install tinyproxy")
        }
        folder = NSTemporaryDirectory() + "tinyproxy-" + String(UUID().uuidString.prefix(8))
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        port = try freeLoopbackPort()
        var lines = [
            "Port \(port)", "Listen 127.0.0.1", "Timeout 60", "MaxClients 100", "Allow 127.0.0.1", "LogLevel Connect",
            "PidFile \"\(folder)/tinyproxy.pid\"",
        ]
        if let credentials { lines.append("BasicAuth \(credentials.user) \(credentials.password)") }
        try (lines.joined(separator: "\n") + "\n").write(toFile: folder + "/tinyproxy.conf", atomically: true, encoding: .utf8)

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, folder + "/tinyproxy.log", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        pid = try Spawn.start(Self.executable, ["-d", "-c", folder + "/tinyproxy.conf"], actions: &actions)

        let deadline = Date().addingTimeInterval(10)
        while !Self.accepts(port: port) {
            if Spawn.reapIfExited(pid) != nil {
                stopped = true
                throw TinyProxyError("tinyproxy exited at start: \(log)")
            }
            guard Date() < deadline else {
                stop()
                throw TinyProxyError("tinyproxy did not listen on \(port) within 10 s: \(log)")
            }
            usleep(20_000)  // polling a process that is starting up, not ordering a race
        }
    }

    /// What the proxy logged so far (one `CONNECT host:port` request line per tunnel).
    public var log: String {
        (try? String(contentsOfFile: folder + "/tinyproxy.log", encoding: .utf8)) ?? ""
    }

    /// The `CONNECT` requests it logged, as their targets (`127.0.0.1:2197`).
    public var connectTargets: [String] {
        log.split(separator: "\n").compactMap { line in
            guard let range = line.range(of: "): CONNECT ") else { return nil }
            return line[range.upperBound...].split(separator: " ").first.map(String.init)
        }
    }

    /// Stops the proxy and waits for it to exit: SIGTERM, then SIGKILL if it still runs after 5 s. True when
    /// SIGTERM ended it (or it had stopped already).
    @discardableResult
    public func stop() -> Bool {
        guard !stopped else { return true }
        stopped = true
        let (_, timedOut) = Spawn.stop(pid, signal: SIGTERM, timeout: .seconds(5))
        try? FileManager.default.removeItem(atPath: folder)
        return !timedOut
    }

    deinit { stop() }

    private static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}

/// Why ``TinyProxy`` could not start.
public struct TinyProxyError: Error, CustomStringConvertible {
    public var description: String

    init(_ description: String) {
        self.description = description
    }
}
