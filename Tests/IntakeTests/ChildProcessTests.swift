import Foundation
import GatewayTestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// What the process tests rely on: a child hears the signals a test sends it, whatever the spawning thread
/// blocked, and no wait for a child outlasts its deadline.
final class ChildProcessTests: XCTestCase {
    /// libdispatch's worker threads block signals, and a child inherits its spawner's mask: a daemon started
    /// from such a thread must still stop on SIGTERM (before, the process tests waited for it forever).
    func testAChildSpawnedFromAThreadThatBlocksSIGTERMStillEndsOnIt() async throws {
        let child = await onThread { () -> ChildProcess? in
            var blocked = sigset_t()
            sigemptyset(&blocked)
            sigaddset(&blocked, SIGTERM)
            sigaddset(&blocked, SIGHUP)
            pthread_sigmask(SIG_BLOCK, &blocked, nil)
            return try? ChildProcess("/bin/sleep", ["60"])
        }
        let sleeper = try XCTUnwrap(child)
        sleeper.signal(SIGTERM)
        let status = await onThread { sleeper.wait(timeout: .seconds(10)) }
        XCTAssertEqual(status, 128 + SIGTERM, "ended by SIGTERM, not killed at the deadline")
    }

    func testTinyproxyStartedFromAThreadThatBlocksSIGTERMStopsOnIt() async throws {
        let stopped = await onThread { () -> Bool? in
            var blocked = sigset_t()
            sigemptyset(&blocked)
            sigaddset(&blocked, SIGTERM)
            pthread_sigmask(SIG_BLOCK, &blocked, nil)
            guard let proxy = try? TinyProxy() else { return nil }
            return proxy.stop()
        }
        XCTAssertEqual(stopped, true, "tinyproxy ends on SIGTERM within 5 s")
    }

    func testAWaitPastItsDeadlineKillsTheChild() async throws {
        let sleeper = try ChildProcess("/bin/sleep", ["60"])
        let started = ContinuousClock.now
        let status = await onThread { sleeper.wait(timeout: .milliseconds(200)) }
        XCTAssertEqual(status, 128 + SIGKILL)
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(10))
    }

    func testAReadWithoutOutputEndsAtItsDeadline() async throws {
        let sleeper = try ChildProcess("/bin/sleep", ["60"])
        let started = ContinuousClock.now
        let line = await onThread { sleeper.readLine(timeout: .milliseconds(200)) }
        XCTAssertNil(line)
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(10))
        let status = await onThread { sleeper.wait(timeout: .milliseconds(100)) }
        XCTAssertEqual(status, 128 + SIGKILL)
    }

    func testTheWatchdogKillsAChildThatOutlivesItsLifetime() async throws {
        let sleeper = try ChildProcess("/bin/sleep", ["60"], lifetime: .milliseconds(200))
        let status = await onThread { sleeper.wait(timeout: .seconds(20)) }
        XCTAssertEqual(status, 128 + SIGKILL)
        XCTAssertEqual(sleeper.readToEnd(timeout: .seconds(5)), "", "its output ended with it")
    }
}
