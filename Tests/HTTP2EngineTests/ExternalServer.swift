import Foundation
import GatewayTestSupport
import XCTest

/// Paths inside the repository.
enum Repository {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }
}

/// A child process started with posix_spawn, so a test can stop and reap it without Foundation's run loop.
final class ChildProcess {
    let pid: pid_t
    private var reaped = false

    init(_ executable: String, _ arguments: [String], quiet: Bool = true) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if quiet {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .ENOENT) }
        self.pid = pid
    }

    /// True while the process has not exited.
    var isRunning: Bool {
        guard !reaped else { return false }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid {
            reaped = true
            return false
        }
        return true
    }

    /// Sends `signal` and waits for the process to exit.
    func stop(signal: Int32 = SIGTERM) {
        guard !reaped else { return }
        kill(pid, signal)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        reaped = true
    }

    deinit { stop(signal: SIGKILL) }
}

/// Waits until something accepts TCP connections on 127.0.0.1:`port`, while `alive` holds.
func waitUntilListening(port: Int, alive: () -> Bool) throws {
    let deadline = Date().addingTimeInterval(10)
    while Date() < deadline {
        guard alive() else { throw POSIXError(.ECONNREFUSED) }
        if canConnect(port: port) { return }
        usleep(20_000)  // polling a process that is starting up, not ordering a race
    }
    throw POSIXError(.ETIMEDOUT)
}

private func canConnect(port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
}

/// nghttpd over TLS with the test certificates, on a free loopback port; stopped by `stop()`.
final class ExternalServer {
    let process: ChildProcess
    let port: Int

    static func nghttpd(extraArguments: [String] = []) throws -> ExternalServer {
        let port = try freeLoopbackPort()
        let process = try ChildProcess("/usr/sbin/nghttpd", ["-a", "127.0.0.1", "--echo-upload"] + extraArguments + [
            "\(port)", Repository.path("certs/localhost.key"), Repository.path("certs/localhost.pem"),
        ])
        let server = ExternalServer(process: process, port: port)
        try waitUntilListening(port: port) { process.isRunning }
        return server
    }

    private init(process: ChildProcess, port: Int) {
        self.process = process
        self.port = port
    }

    /// nghttpd ignores SIGTERM, so it is killed.
    func stop() { process.stop(signal: SIGKILL) }
}
