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
