@testable import HTTP2Engine
import NIOCore
import XCTest

/// The connection lifecycle driven directly, with made-up times.
final class HTTP2ConnectionStateMachineTests: XCTestCase {
    private let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
    private let configuration = HTTP2ConnectionConfiguration(
        maxConcurrentStreams: 500, pingInterval: .seconds(60), pingTimeout: .seconds(10), connectTimeout: .seconds(5)
    )

    private func active(limit: Int = 1) -> HTTP2ConnectionStateMachine {
        var machine = HTTP2ConnectionStateMachine(configuration: configuration, now: start)
        XCTAssertEqual(machine.handshakeCompleted(alpn: "h2"), .startSession)
        XCTAssertEqual(machine.settingsReceived(maxConcurrentStreams: limit), .announceReady(streamLimit: limit))
        return machine
    }

    func testNoStreamsBeforeTheServersSettingsThenTheLiveLimitCappedByConfiguration() {
        var machine = HTTP2ConnectionStateMachine(configuration: configuration, now: start)
        XCTAssertEqual(machine.handshakeCompleted(alpn: "h2"), .startSession)
        XCTAssertEqual(machine.freeStreams(openStreams: 0), 0, "nothing is opened before SETTINGS")
        XCTAssertEqual(machine.settingsReceived(maxConcurrentStreams: 1), .announceReady(streamLimit: 1))
        XCTAssertEqual(machine.freeStreams(openStreams: 0), 1)
        XCTAssertEqual(machine.freeStreams(openStreams: 1), 0)
        XCTAssertEqual(machine.settingsReceived(maxConcurrentStreams: 1000), .updateStreamLimit(500), "capped at 500")
        XCTAssertEqual(machine.freeStreams(openStreams: 100), 400)
        XCTAssertEqual(machine.settingsReceived(maxConcurrentStreams: 2000), .none, "same effective limit")
    }

    func testWithoutALPNh2TheConnectionClosesWithAClearReason() {
        var machine = HTTP2ConnectionStateMachine(configuration: configuration, now: start)
        guard case .close(.tls(let error)) = machine.handshakeCompleted(alpn: "http/1.1") else {
            return XCTFail("expected a close")
        }
        XCTAssertTrue(error.isALPNFailure)
        XCTAssertTrue(error.description.contains("http/1.1"))
        XCTAssertTrue(machine.isClosed)
    }

    func testConnectTimeoutWhenSettingsNeverCome() {
        var machine = HTTP2ConnectionStateMachine(configuration: configuration, now: start)
        _ = machine.handshakeCompleted(alpn: "h2")
        XCTAssertEqual(machine.tick(now: start + .seconds(4), openStreams: 0), .none)
        guard case .close(.timeout) = machine.tick(now: start + .seconds(6), openStreams: 0) else {
            return XCTFail("expected a timeout")
        }
    }

    func testIdleConnectionPingsAndClosesWhenThePingIsNotAnswered() {
        var machine = active()
        XCTAssertEqual(machine.tick(now: start + .seconds(30), openStreams: 0), .none)
        XCTAssertEqual(machine.tick(now: start + .seconds(61), openStreams: 0), .sendPing)
        XCTAssertEqual(machine.tick(now: start + .seconds(65), openStreams: 0), .none, "waiting for the ack")
        guard case .close(.timeout) = machine.tick(now: start + .seconds(72), openStreams: 0) else {
            return XCTFail("an unanswered PING must close the connection")
        }
    }

    func testAnAnsweredPingKeepsTheConnection() {
        var machine = active()
        XCTAssertEqual(machine.tick(now: start + .seconds(61), openStreams: 0), .sendPing)
        machine.pingAcknowledged()
        machine.bytesReceived(now: start + .seconds(62))
        XCTAssertEqual(machine.tick(now: start + .seconds(100), openStreams: 0), .none)
        XCTAssertEqual(machine.tick(now: start + .seconds(123), openStreams: 0), .sendPing)
    }

    // MARK: Stall detection

    /// Ticks every 50 ms (as the handler does) from `from` through `to` with `openStreams` open; returns the
    /// first action other than `.none` and when it came.
    private func tickUntilAction(
        _ machine: inout HTTP2ConnectionStateMachine, from: TimeAmount, to: TimeAmount, openStreams: Int
    ) -> (HTTP2ConnectionStateMachine.Action, TimeAmount)? {
        var offset = from
        while offset <= to {
            let action = machine.tick(now: start + offset, openStreams: openStreams)
            if action != .none { return (action, offset) }
            offset = offset + .milliseconds(50)
        }
        return nil
    }

    private let stallConfiguration = HTTP2ConnectionConfiguration(
        maxConcurrentStreams: 500, pingInterval: .seconds(60), pingTimeout: .seconds(10),
        stallTimeout: .seconds(3), stallPingTimeout: .seconds(2), connectTimeout: .seconds(5)
    )

    private func activeForStalls() -> HTTP2ConnectionStateMachine {
        var machine = HTTP2ConnectionStateMachine(configuration: stallConfiguration, now: start)
        _ = machine.handshakeCompleted(alpn: "h2")
        _ = machine.settingsReceived(maxConcurrentStreams: 100)
        return machine
    }

    func testStreamsWaitingOnASilentServerProbeAfterTheStallTimeoutAndCloseAfterTheProbeTimeout() {
        var machine = activeForStalls()
        guard let (ping, pingAt) = tickUntilAction(&machine, from: .zero, to: .seconds(10), openStreams: 5) else {
            return XCTFail("streams waiting on a silent server must probe")
        }
        XCTAssertEqual(ping, .sendPing)
        XCTAssertGreaterThan(pingAt, .seconds(3))
        XCTAssertLessThanOrEqual(pingAt, .milliseconds(3050), "one tick after the stall timeout")
        guard let (close, closeAt) = tickUntilAction(&machine, from: pingAt + .milliseconds(50), to: .seconds(20), openStreams: 5),
              case .close(.timeout(let text)) = close
        else {
            return XCTFail("an unanswered probe must close the connection")
        }
        XCTAssertGreaterThan(closeAt - pingAt, .seconds(2), "the probe's own timeout, not the keep-alive's 10 s")
        XCTAssertLessThanOrEqual(closeAt - pingAt, .milliseconds(2050))
        XCTAssertTrue(text.contains("2 s") && text.contains("streams waited"), text)
        XCTAssertTrue(machine.isClosed)
    }

    func testAnIdleConnectionKeepsTheKeepAliveTimes() {
        var machine = activeForStalls()
        XCTAssertNil(tickUntilAction(&machine, from: .zero, to: .seconds(60), openStreams: 0), "no stall probe without streams")
        XCTAssertEqual(machine.tick(now: start + .seconds(61), openStreams: 0), .sendPing)
        XCTAssertEqual(machine.tick(now: start + .seconds(70), openStreams: 0), .none, "the keep-alive waits 10 s")
        guard case .close(.timeout) = machine.tick(now: start + .milliseconds(71_050), openStreams: 0) else {
            return XCTFail("an unanswered keep-alive PING closes after its own timeout")
        }
    }

    func testReadsWhileStreamsWaitMeanNoStall() {
        var machine = activeForStalls()
        var offset = TimeAmount.zero
        while offset < .seconds(120) {
            // An answer (or any frame) every 2 s: below the stall timeout.
            if offset.nanoseconds % TimeAmount.seconds(2).nanoseconds == 0 { machine.bytesReceived(now: start + offset) }
            XCTAssertEqual(machine.tick(now: start + offset, openStreams: 50), .none, "at \(offset)")
            offset = offset + .milliseconds(50)
        }
    }

    func testTheStallTimeCountsFromWhenStreamsBeganToWait() {
        var machine = activeForStalls()
        XCTAssertNil(tickUntilAction(&machine, from: .zero, to: .seconds(50), openStreams: 0))
        // Fifty silent seconds before the first stream: the server gets the full stall timeout to answer it.
        guard let (ping, pingAt) = tickUntilAction(&machine, from: .milliseconds(50_050), to: .seconds(60), openStreams: 1) else {
            return XCTFail("expected a probe")
        }
        XCTAssertEqual(ping, .sendPing)
        XCTAssertGreaterThan(pingAt, .milliseconds(53_050))
        XCTAssertLessThanOrEqual(pingAt, .milliseconds(53_100))
    }

    func testAnAnsweredProbeKeepsTheConnectionAndTheNextComesAfterAnotherSilentStallTimeout() {
        var machine = activeForStalls()
        guard let (_, pingAt) = tickUntilAction(&machine, from: .zero, to: .seconds(10), openStreams: 5) else {
            return XCTFail("expected a probe")
        }
        machine.bytesReceived(now: start + pingAt + .milliseconds(10))
        machine.pingAcknowledged()
        guard let (next, nextAt) = tickUntilAction(&machine, from: pingAt + .milliseconds(50), to: .seconds(20), openStreams: 5) else {
            return XCTFail("expected a second probe")
        }
        XCTAssertEqual(next, .sendPing, "the answered probe did not close the connection")
        XCTAssertGreaterThan(nextAt - pingAt, .seconds(3))
        XCTAssertLessThanOrEqual(nextAt - pingAt, .milliseconds(3100))
    }

    func testStreamsThatFinishBeforeTheStallTimeoutMeanNoProbe() {
        var machine = activeForStalls()
        XCTAssertEqual(machine.tick(now: start + .seconds(1), openStreams: 3), .none)
        XCTAssertEqual(machine.tick(now: start + .seconds(2), openStreams: 0), .none)
        // New streams at 3.5 s: the wait starts again there, not at 1 s.
        XCTAssertEqual(machine.tick(now: start + .milliseconds(3500), openStreams: 2), .none)
        XCTAssertEqual(machine.tick(now: start + .milliseconds(6400), openStreams: 2), .none)
        XCTAssertEqual(machine.tick(now: start + .milliseconds(6600), openStreams: 2), .sendPing)
    }

    func testAKeepAlivePingSentWhileStreamsWaitGetsTheShorterTimeout() {
        // A keep-alive interval below the stall timeout (as in the fault campaign's stall run): its PING goes out
        // first, and with streams waiting it must be answered within the stall probe's timeout.
        let configuration = HTTP2ConnectionConfiguration(
            maxConcurrentStreams: 500, pingInterval: .seconds(1), pingTimeout: .seconds(10),
            stallTimeout: .seconds(3), stallPingTimeout: .seconds(2), connectTimeout: .seconds(5)
        )
        var machine = HTTP2ConnectionStateMachine(configuration: configuration, now: start)
        _ = machine.handshakeCompleted(alpn: "h2")
        _ = machine.settingsReceived(maxConcurrentStreams: 100)
        XCTAssertEqual(machine.tick(now: start + .milliseconds(1100), openStreams: 4), .sendPing)
        XCTAssertEqual(machine.tick(now: start + .milliseconds(3000), openStreams: 4), .none)
        guard case .close(.timeout) = machine.tick(now: start + .milliseconds(3200), openStreams: 4) else {
            return XCTFail("expected the shorter timeout")
        }
    }

    func testADrainingConnectionProbesToo() {
        var machine = activeForStalls()
        XCTAssertEqual(machine.goAwayReceived(errorCode: 0, debugData: ""), .announceGoingAway(.goAway(errorCode: 0, debugData: "")))
        guard let (ping, _) = tickUntilAction(&machine, from: .zero, to: .seconds(10), openStreams: 7) else {
            return XCTFail("expected a probe")
        }
        XCTAssertEqual(ping, .sendPing)
        guard let (close, _) = tickUntilAction(&machine, from: .milliseconds(3100), to: .seconds(10), openStreams: 7),
              case .close(.goAway) = close
        else {
            return XCTFail("an unanswered probe ends the drain (the GOAWAY stays the reason)")
        }
    }

    func testGoAwayStopsNewStreamsAndClosesOnceDrained() {
        var machine = active(limit: 100)
        XCTAssertEqual(machine.goAwayReceived(errorCode: 0, debugData: "bye"), .announceGoingAway(.goAway(errorCode: 0, debugData: "bye")))
        XCTAssertEqual(machine.freeStreams(openStreams: 3), 0)
        XCTAssertEqual(machine.streamsChanged(openStreams: 3), .none)
        XCTAssertEqual(machine.streamsChanged(openStreams: 0), .close(.goAway(errorCode: 0, debugData: "bye")))
        XCTAssertEqual(machine.goAwayReceived(errorCode: 0, debugData: ""), .none, "nothing after close")
    }

    func testDrainRequestBeforeReadyClosesAtOnceAndAfterReadyDrains() {
        var early = HTTP2ConnectionStateMachine(configuration: configuration, now: start)
        XCTAssertEqual(early.drainRequested(), .close(.closedLocally))
        var machine = active()
        XCTAssertEqual(machine.drainRequested(), .startDraining)
        XCTAssertEqual(machine.drainRequested(), .none)
        XCTAssertEqual(machine.streamsChanged(openStreams: 0), .close(.closedLocally))
    }

    func testTheFirstReasonWins() {
        var machine = active()
        _ = machine.goAwayReceived(errorCode: 2, debugData: "")
        XCTAssertEqual(machine.failed(.transport("reset")), .close(.goAway(errorCode: 2, debugData: "")))
        XCTAssertEqual(machine.failed(.transport("again")), .none)
    }
}
