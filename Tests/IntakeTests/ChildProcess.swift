import GatewayTestSupport
import Foundation
import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#endif

/// A child process started with posix_spawn (``Spawn``: no signal blocked or ignored), its standard output
/// (and optionally standard error) on a pipe. Blocking calls (``readLine(timeout:)``, ``wait(timeout:)``)
/// belong on a thread of their own (``onThread(_:)``).
///
/// Nothing waits for it without a deadline: a read gives up at its timeout, a wait kills the child (SIGKILL)
/// at its own, and a watchdog kills it when its `lifetime` is over, which ends every read of its output and
/// every connection to it. A child that is released while it still runs (a test that failed or threw) is
/// killed and reaped.
final class ChildProcess: Sendable {
    let pid: pid_t
    private let output: Int32
    /// The exit status once reaped; the lock also keeps a kill from racing the reaping (a reused pid).
    private let exit = NIOLockedValueBox<Int32?>(nil)

    /// The built `apns-gateway` binary, next to the test bundle in the scratch folder's debug directory.
    static var gatewayBinary: String {
        let bundle = URL(fileURLWithPath: CommandLine.arguments.first { $0.hasSuffix(".xctest") } ?? CommandLine.arguments[0])
        return bundle.deletingLastPathComponent().appendingPathComponent("apns-gateway").path
    }

    /// Starts `path`; the watchdog kills it after `lifetime` if it still runs.
    init(_ path: String, _ arguments: [String], includeStandardError: Bool = false, lifetime: Duration = .seconds(300)) throws {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw IntakeTestError("pipe failed") }
        // Neither end leaks into other children (a leaked write end would keep the output open after this child ends).
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        if includeStandardError {
            posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
        }
        let child: pid_t
        do {
            child = try Spawn.start(path, arguments, actions: &actions)
        } catch {
            close(fds[0])
            close(fds[1])
            throw IntakeTestError("\(error)")
        }
        close(fds[1])
        pid = child
        output = fds[0]
        let seconds = Double(lifetime.components.seconds) + Double(lifetime.components.attoseconds) / 1e18
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [weak self] in
            guard let self, self.reap() == nil, self.kill(ifRunning: SIGKILL) else { return }
            FileHandle.standardError.write(Data("ChildProcess: \(path) (pid \(child)) still ran after \(lifetime): killed\n".utf8))
        }
    }

    deinit {
        if kill(ifRunning: SIGKILL) { _ = wait(timeout: .seconds(10)) }
        close(output)
    }

    /// The next line of output, or nil at its end or when none came within `timeout`.
    func readLine(timeout: Duration = .seconds(60)) -> String? {
        let deadline = ContinuousClock.now + timeout
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while waitForOutput(until: deadline), Glibc.read(output, &byte, 1) == 1 {
            if byte == 0x0A { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(byte)
        }
        return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self)
    }

    /// All remaining output, up to its end or `timeout`.
    func readToEnd(timeout: Duration = .seconds(60)) -> String {
        let deadline = ContinuousClock.now + timeout
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while waitForOutput(until: deadline) {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(output, $0.baseAddress, 4096) }
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Waits up to `timeout` for the child to end: its exit status, or 128 + the signal that ended it. A child
    /// still running then is killed (status 137) and reported on standard error.
    func wait(timeout: Duration = .seconds(60)) -> Int32 {
        var deadline = ContinuousClock.now + timeout
        var killed = false
        while true {
            if let status = reap() { return status }
            if ContinuousClock.now >= deadline {
                guard !killed else { return 128 + SIGKILL }
                killed = true
                deadline = ContinuousClock.now + .seconds(10)
                if kill(ifRunning: SIGKILL) {
                    FileHandle.standardError.write(Data("ChildProcess: pid \(pid) did not exit within \(timeout): killed\n".utf8))
                }
            }
            usleep(10_000)  // polling for an exit, not ordering a race
        }
    }

    /// Sends `number` to the child while it runs.
    func signal(_ number: Int32) { kill(ifRunning: number) }

    /// Sends `number` unless the child was reaped (its pid may belong to another process by then). True when sent.
    @discardableResult
    private func kill(ifRunning number: Int32) -> Bool {
        exit.withLockedValue { status in
            guard status == nil else { return false }
            return Glibc.kill(pid, number) == 0
        }
    }

    /// The exit status if the child has ended (reaping it once).
    private func reap() -> Int32? {
        exit.withLockedValue { status in
            if status == nil { status = Spawn.reapIfExited(pid) }
            return status
        }
    }

    /// Waits until the output is readable (data or its end) or `deadline` passes; false at the deadline.
    private func waitForOutput(until deadline: ContinuousClock.Instant) -> Bool {
        while true {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { return false }
            let milliseconds = Int32(min(remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000 + 1, 60_000))
            var descriptor = pollfd(fd: output, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, milliseconds)
            if ready > 0 { return true }
            if ready < 0 && errno != EINTR { return false }
        }
    }
}
