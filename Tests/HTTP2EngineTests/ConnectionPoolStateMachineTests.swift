@testable import HTTP2Engine
import NIOCore
import XCTest

/// The pool's state machine driven directly: no sockets, no clock, no event loops.
final class ConnectionPoolStateMachineTests: XCTestCase {
    private final class Stub: HTTP2Exchange, @unchecked Sendable {
        let deadline: NIODeadline
        let requestBody = ByteBuffer()
        let name: Int
        init(_ name: Int, deadline: NIODeadline = .uptimeNanoseconds(1_000_000_000_000)) {
            self.name = name
            self.deadline = deadline
        }
        func writeHeaders(into writer: inout HTTP2HeaderWriter) {}
        func complete(_ result: Result<HTTP2Response, HTTP2Error>) {}
    }

    private func machine(connections: Int = 2, maxQueued: Int = 100) -> ConnectionPoolStateMachine {
        ConnectionPoolStateMachine(configuration: .init(
            connectionCount: connections, maxQueued: maxQueued, staggerMilliseconds: 100,
            reconnectInitialMilliseconds: 100, reconnectMaxMilliseconds: 1000
        ))
    }

    private func names(_ batch: [any HTTP2Exchange]) -> [Int] { batch.map { ($0 as! Stub).name } }

    func testStartStaggersTheConnects() {
        var pool = machine(connections: 3)
        let actions = pool.start()
        XCTAssertEqual(actions.connect.map(\.delay), [.zero, .milliseconds(100), .milliseconds(200)])
        XCTAssertEqual(Set(actions.connect.map(\.connectionID)).count, 3)
    }

    func testTheQueueIsBoundedAndSaysWhenFull() {
        var pool = machine(maxQueued: 2)
        _ = pool.start()
        guard case .accepted = pool.enqueue(Stub(1)), case .accepted = pool.enqueue(Stub(2)) else { return XCTFail() }
        guard case .rejected(let error) = pool.enqueue(Stub(3)) else { return XCTFail("a third fits in a queue of two") }
        XCTAssertTrue(error.isQueueFull)
        guard case .accepted = pool.enqueue(Stub(4), bypassingLimit: true) else { return XCTFail("a retry must be taken") }
    }

    func testAWaitingConnectionIsWokenOnceAndABurstIsShared() {
        var pool = machine(connections: 2)
        let ids = pool.start().connect.map(\.connectionID)
        _ = pool.connectionReady(ids[0])
        _ = pool.connectionReady(ids[1])
        var batch: [any HTTP2Exchange] = []
        XCTAssertFalse(pool.dequeue(for: ids[0], max: 10, into: &batch))
        XCTAssertFalse(pool.dequeue(for: ids[1], max: 10, into: &batch))
        XCTAssertTrue(batch.isEmpty)
        guard case .accepted(let wake) = pool.enqueue(Stub(0)) else { return XCTFail() }
        XCTAssertEqual(Set(wake), Set(ids), "both idle connections are woken")
        guard case .accepted(let again) = pool.enqueue(Stub(1)) else { return XCTFail() }
        XCTAssertEqual(again, [], "no second wake-up before they pull")
        for i in 2..<10 { _ = pool.enqueue(Stub(i)) }
        XCTAssertTrue(pool.dequeue(for: ids[0], max: 100, into: &batch), "the share stopped it: it must come back")
        XCTAssertEqual(names(batch), [0, 1, 2, 3, 4], "half of the burst for the first of two ready connections")
        batch.removeAll()
        XCTAssertFalse(pool.dequeue(for: ids[1], max: 2, into: &batch), "its free streams stopped it")
        XCTAssertEqual(names(batch), [5, 6], "never more than the connection's free streams")
        batch.removeAll()
        XCTAssertFalse(pool.dequeue(for: ids[0], max: 100, into: &batch), "nothing is left")
        XCTAssertEqual(names(batch), [7, 8, 9], "back for more, it takes what the other left, not half of it")
        for i in 10..<20 { _ = pool.enqueue(Stub(i)) }
        batch.removeAll()
        XCTAssertTrue(pool.dequeue(for: ids[0], max: 100, into: &batch))
        XCTAssertEqual(names(batch), [10, 11, 12, 13, 14], "a new burst is shared again")
        batch.removeAll()
        XCTAssertFalse(pool.dequeue(for: ids[0], max: 2, into: &batch), "its free streams stopped it")
        XCTAssertEqual(names(batch), [15, 16], "back for more, up to its free streams")
    }

    func testGoAwayOpensAReplacementAndUnsentGoBackToTheFront() {
        var pool = machine(connections: 1)
        let first = pool.start().connect[0].connectionID
        _ = pool.connectionReady(first)
        for i in 0..<3 { _ = pool.enqueue(Stub(i)) }
        var batch: [any HTTP2Exchange] = []
        _ = pool.dequeue(for: first, max: 2, into: &batch)
        let away = pool.connectionGoingAway(first, random: 0)
        XCTAssertEqual(away.connect.count, 1)
        let replacement = away.connect[0].connectionID
        XCTAssertNotEqual(replacement, first)
        let closed = pool.connectionClosed(first, reason: .goAway(errorCode: 0, debugData: ""), unsent: [batch[1]], stillOpen: false, random: 0)
        XCTAssertTrue(closed.connect.isEmpty, "the slot already has its replacement")
        _ = pool.connectionReady(replacement)
        batch.removeAll()
        _ = pool.dequeue(for: replacement, max: 10, into: &batch)
        XCTAssertEqual(names(batch), [1, 2], "the unsent stream is first in line")
    }

    func testFailedConnectsBackOffExponentiallyWithJitter() {
        var pool = machine(connections: 1)
        var id = pool.start().connect[0].connectionID
        var delays: [TimeAmount] = []
        for _ in 0..<5 {
            let actions = pool.connectionClosed(id, reason: .transport("refused"), unsent: [], stillOpen: false, random: 1)
            delays.append(actions.connect[0].delay)
            id = actions.connect[0].connectionID
            pool.connectionAttemptStarted(id)
        }
        XCTAssertEqual(delays, [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .milliseconds(1000)])
        XCTAssertEqual(pool.reconnectDelay(failures: 1, random: 0), .milliseconds(50), "jitter takes up to half off")
    }

    func testAFatalConnectErrorFailsTheQueueAtOnce() {
        var pool = machine(connections: 1)
        let id = pool.start().connect[0].connectionID
        _ = pool.enqueue(Stub(1))
        let actions = pool.connectionClosed(id, reason: .tls(.alpnNotNegotiated("no h2")), unsent: [], stillOpen: false, random: 0)
        XCTAssertEqual(actions.fail.count, 1)
        XCTAssertEqual(actions.fail[0].1.kind, .connectFailed)
        XCTAssertTrue(actions.fail[0].1.isNotSent)
        XCTAssertTrue(actions.fail[0].1.detail.contains("ALPN"), actions.fail[0].1.detail)
        XCTAssertEqual(actions.connect.count, 1, "it still tries again, with back-off")
    }

    /// A connect failure that reconnecting may fix is no connect failure for the exchanges: they wait, and those
    /// whose deadline passes meanwhile are not sent (the client may retry them), though the detail quotes the
    /// connect error.
    func testADeadlineWhileConnectsFailIsNotSentNotAConnectFailure() {
        var pool = machine(connections: 1)
        let id = pool.start().connect[0].connectionID
        _ = pool.enqueue(Stub(1, deadline: .uptimeNanoseconds(10)))
        let closed = pool.connectionClosed(
            id, reason: .transport("cannot connect: connection refused"), unsent: [], stillOpen: false, random: 0)
        XCTAssertTrue(closed.fail.isEmpty, "a refused connect may pass: the exchange waits")
        let actions = pool.expireQueued(now: .uptimeNanoseconds(100))
        XCTAssertEqual(actions.fail.count, 1)
        XCTAssertEqual(actions.fail[0].1.kind, .notSent)
        XCTAssertTrue(actions.fail[0].1.detail.contains("cannot connect"), actions.fail[0].1.detail)
    }

    func testAConnectFailureReadsCannotConnectAndIsNotSent() {
        let error = HTTP2Error.connectFailed(.tls(.handshakeFailed("certificate verification failed: x")))
        XCTAssertEqual(error.kind, .connectFailed)
        XCTAssertTrue(error.isNotSent)
        XCTAssertFalse(error.isOutcomeUnknown)
        XCTAssertEqual(error.detail, "cannot connect: TLS handshake failed: certificate verification failed: x")
        XCTAssertNotEqual(error, HTTP2Error.notSent(error.detail), "the kind, not the words, tells them apart")
    }

    func testExpiredQueuedExchangesFailWithDeadlineExceeded() {
        var pool = machine(connections: 1)
        let id = pool.start().connect[0].connectionID
        _ = pool.connectionReady(id)
        _ = pool.enqueue(Stub(1, deadline: .uptimeNanoseconds(10)))
        _ = pool.enqueue(Stub(2, deadline: .uptimeNanoseconds(1_000)))
        let actions = pool.expireQueued(now: .uptimeNanoseconds(100))
        XCTAssertEqual(actions.fail.map { ($0.0 as! Stub).name }, [1])
        XCTAssertTrue(actions.fail[0].1.isDeadlineExceeded)
        XCTAssertEqual(pool.queuedCount, 1)
    }

    func testTheQuickSweepLooksAtTheFrontAndTheFullSweepAtEverything() {
        var pool = machine(connections: 1)
        _ = pool.start()
        _ = pool.enqueue(Stub(1, deadline: .uptimeNanoseconds(1_000)))
        _ = pool.enqueue(Stub(2, deadline: .uptimeNanoseconds(10)))
        XCTAssertTrue(pool.expireQueued(now: .uptimeNanoseconds(100), fullScan: false).fail.isEmpty)
        XCTAssertEqual(pool.expireQueued(now: .uptimeNanoseconds(100), fullScan: true).fail.map { ($0.0 as! Stub).name }, [2])
        XCTAssertEqual(pool.expireQueued(now: .uptimeNanoseconds(2_000), fullScan: false).fail.map { ($0.0 as! Stub).name }, [1])
    }

    func testShutdownFailsTheQueueAndDrainsEveryConnection() {
        var pool = machine(connections: 2)
        let ids = pool.start().connect.map(\.connectionID)
        _ = pool.connectionReady(ids[0])
        _ = pool.enqueue(Stub(1))
        let actions = pool.shutdown()
        XCTAssertEqual(actions.fail.count, 1)
        XCTAssertTrue(actions.fail[0].1.isShutdown)
        XCTAssertEqual(Set(actions.drain), Set(ids))
        guard case .rejected(let error) = pool.enqueue(Stub(2)) else { return XCTFail() }
        XCTAssertTrue(error.isShutdown)
    }
}
