import GatewayTestSupport
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A child process started with posix_spawn, its standard output (and optionally standard error) on a pipe.
/// Blocking calls (``readLine()``, ``wait()``) belong on a thread of their own (``onThread(_:)``).
final class ChildProcess: Sendable {
    let pid: pid_t
    private let output: Int32

    /// The built `apns-gateway` binary, next to the test bundle in the scratch folder's debug directory.
    static var gatewayBinary: String {
        let bundle = URL(fileURLWithPath: CommandLine.arguments.first { $0.hasSuffix(".xctest") } ?? CommandLine.arguments[0])
        return bundle.deletingLastPathComponent().appendingPathComponent("apns-gateway").path
    }

    init(_ path: String, _ arguments: [String], includeStandardError: Bool = false) throws {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw IntakeTestError("pipe failed") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        if includeStandardError {
            posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
        }
        posix_spawn_file_actions_addclose(&actions, fds[0])
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var child: pid_t = 0
        let result = posix_spawn(&child, path, &actions, nil, argv, environ)
        close(fds[1])
        guard result == 0 else {
            close(fds[0])
            throw IntakeTestError("cannot start \(path): error \(result)")
        }
        pid = child
        output = fds[0]
    }

    deinit { close(output) }

    /// The next line of output, or nil at its end.
    func readLine() -> String? {
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while Glibc.read(output, &byte, 1) == 1 {
            if byte == 0x0A { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(byte)
        }
        return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self)
    }

    /// All remaining output.
    func readToEnd() -> String {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(output, $0.baseAddress, 4096) }
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Waits for the child to end; its exit status, or 128 + the signal that ended it.
    func wait() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        if status & 0x7F == 0 { return (status >> 8) & 0xFF }
        return 128 + (status & 0x7F)
    }

    func signal(_ number: Int32) { kill(pid, number) }
}
