import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Starting and reaping the processes tests run (the gateway, tinyproxy, openssl), with deadlines.
///
/// A test process's threads block most signals (libdispatch's worker threads do), and `posix_spawn` hands the
/// calling thread's signal mask and ignored signals to the child: a daemon started that way never sees the
/// SIGTERM, SIGINT or SIGHUP a test sends it, and a test that then waits for it to exit waits forever. So every
/// child starts with an empty signal mask and every signal at its default disposition, as a service manager
/// would start it, and every wait for a child ends at a deadline.
public enum Spawn {
    /// Starts `path` with `arguments` (the program name is added) and the test's environment, applying
    /// `actions` (redirections) first. The child starts with no signal blocked and none ignored.
    public static func start(
        _ path: String, _ arguments: [String], actions: UnsafePointer<posix_spawn_file_actions_t>? = nil
    ) throws -> pid_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in 1..<Int32(32) where signal != SIGKILL && signal != SIGSTOP {
            sigaddset(&defaults, signal)
        }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, actions, &attributes, argv, environ)
        guard rc == 0 else { throw SpawnError("cannot start \(path): \(String(cString: strerror(rc)))") }
        return pid
    }

    /// Reaps `pid` if it has exited: its exit status, or 128 + the signal that ended it; nil while it runs.
    public static func reapIfExited(_ pid: pid_t) -> Int32? {
        var status: Int32 = 0
        var result: pid_t
        repeat {
            result = waitpid(pid, &status, WNOHANG)
        } while result < 0 && errno == EINTR
        guard result == pid else { return result < 0 ? 255 : nil }
        return exitCode(status)
    }

    /// Waits up to `timeout` for `pid` to exit and reaps it: its exit status, or nil if it still runs then.
    ///
    /// Polls `waitpid` every 10 ms: a child's exit gives no descriptor to wait on here.
    public static func wait(_ pid: pid_t, timeout: Duration) -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let status = reapIfExited(pid) { return status }
            guard ContinuousClock.now < deadline else { return nil }
            usleep(10_000)  // polling for an exit, not ordering a race
        }
    }

    /// Sends `signal`, waits up to `timeout` for an exit, else kills the process (SIGKILL) and reaps it.
    /// Returns the exit status and whether the deadline passed.
    @discardableResult
    public static func stop(_ pid: pid_t, signal: Int32 = SIGTERM, timeout: Duration = .seconds(5)) -> (status: Int32, timedOut: Bool) {
        if let status = reapIfExited(pid) { return (status, false) }
        kill(pid, signal)
        if let status = wait(pid, timeout: timeout) { return (status, false) }
        kill(pid, SIGKILL)
        return (wait(pid, timeout: .seconds(10)) ?? 128 + SIGKILL, true)
    }

    private static func exitCode(_ status: Int32) -> Int32 {
        if status & 0x7F == 0 { return (status >> 8) & 0xFF }
        return 128 + (status & 0x7F)
    }
}

/// Why ``Spawn`` could not start a process.
public struct SpawnError: Error, CustomStringConvertible {
    public var description: String

    init(_ description: String) {
        self.description = description
    }
}
