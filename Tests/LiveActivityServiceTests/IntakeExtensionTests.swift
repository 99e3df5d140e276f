import GatewayTestSupport
import Foundation
import Intake
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import XCTest

/// An extension op for the tests: replies `"echo":<the request's op>,"running":<ops running when it started>`,
/// optionally waiting at a gate the test opens.
final class GateOperation: IntakeOperation, Sendable {
    private struct State {
        var running = 0
        var maxRunning = 0
        var open: Bool
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state: NIOLockedValueBox<State>

    init(open: Bool) {
        state = NIOLockedValueBox(State(open: open))
    }

    var running: Int { state.withLockedValue { $0.running } }
    var maxRunning: Int { state.withLockedValue { $0.maxRunning } }

    func openGate() {
        let waiters = state.withLockedValue { state in
            state.open = true
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func handle(_ request: IntakeRequest) async -> IntakeReply {
        let runningNow = state.withLockedValue { state in
            state.running += 1
            state.maxRunning = max(state.maxRunning, state.running)
            return state.running
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let open = state.withLockedValue { state in
                if !state.open { state.waiters.append(continuation) }
                return state.open
            }
            if open { continuation.resume() }
        }
        state.withLockedValue { $0.running -= 1 }
        var reply = IntakeReply()
        reply.writer.string("echo", request.op)
        reply.writer.int("running", runningNow)
        return reply
    }
}

final class IntakeExtensionTests: XCTestCase {
    private func startIntake(
        _ operations: [String: any IntakeOperation], timeout: TimeAmount = .seconds(300)
    ) async throws -> (IntakeServer, MultiThreadedEventLoopGroup, String) {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let directory = try makeTemporaryDirectory()
        let intake = try await IntakeServer.start(
            configuration: IntakeConfiguration(socketPath: directory + "/intake.sock", operationTimeout: timeout),
            apps: [], operations: operations, group: group, logger: quietLogger())
        return (intake, group, directory)
    }

    private func stop(_ intake: IntakeServer, _ group: MultiThreadedEventLoopGroup, _ directory: String) async throws {
        await intake.shutdown(grace: .seconds(1))
        try await group.shutdownGracefully()
        try? FileManager.default.removeItem(atPath: directory)
    }

    func testUnknownOpsAreStillUnknownAndCoreOpsCannotBeReplaced() async throws {
        let (intake, group, directory) = try await startIntake(["test.echo": GateOperation(open: true)])
        let path = directory + "/intake.sock"
        let replies = await onThread { () -> [String] in
            guard let socket = try? RawSocket(path: path) else { return [] }
            defer { socket.closeSocket() }
            socket.write(Array(#"{"id":1,"op":"test.nope"}"# .utf8) + [10] + Array(#"{"id":2,"op":"test.echo"}"#.utf8) + [10])
            return socket.readLines(2)
        }
        XCTAssertEqual(replies.count, 2)
        XCTAssertEqual(
            replies.first,
            #"{"id":1,"error":{"code":"UnknownOp","message":"unknown op \"test.nope\"; known: send, ping, stats, test.echo"}}"#)
        XCTAssertEqual(replies.last, #"{"id":2,"echo":"test.echo","running":1}"#)
        try await stop(intake, group, directory)

        let otherGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            _ = try await IntakeServer.start(
                configuration: IntakeConfiguration(socketPath: directory + "/x.sock"), apps: [],
                operations: ["send": GateOperation(open: true)], group: otherGroup)
            XCTFail("replacing send must be refused")
        } catch {
            XCTAssertTrue("\(error)".contains("built in"), "\(error)")
        }
        try await otherGroup.shutdownGracefully()
    }

    /// 40 pipelined extension requests on one connection: at most 16 run at once (the connection stops reading),
    /// and every one gets its reply.
    func testPipelinedOperationsAreBoundedPerConnectionAndAllAnswered() async throws {
        let gate = GateOperation(open: false)
        let (intake, group, directory) = try await startIntake(["test.gate": gate])
        let path = directory + "/intake.sock"
        let socket = try RawSocket(path: path)
        var bytes: [UInt8] = []
        for id in 0..<40 { bytes += Array(#"{"id":"r\#(id)","op":"test.gate"}"#.utf8) + [10] }
        bytes += Array(#"{"id":"last","op":"ping"}"#.utf8) + [10]
        XCTAssertTrue(socket.write(bytes))
        let reachedLimit = await eventually { gate.running == 16 }
        XCTAssertTrue(reachedLimit, "running: \(gate.running)")
        gate.openGate()
        let replies = await onThread { socket.readLines(41) }
        socket.closeSocket()
        XCTAssertEqual(replies.count, 41)
        XCTAssertEqual(gate.maxRunning, 16)
        let ids = Set(replies.compactMap { line -> String? in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["id"] as? String
        })
        XCTAssertEqual(ids, Set((0..<40).map { "r\($0)" } + ["last"]))
        XCTAssertTrue(replies.filter { $0.contains("\"echo\":\"test.gate\"") }.count == 40)
        try await stop(intake, group, directory)
    }

    /// Shutdown waits for a running extension op: its reply is written before the connection closes.
    func testDrainWaitsForRunningOperations() async throws {
        let gate = GateOperation(open: false)
        let (intake, group, directory) = try await startIntake(["test.gate": gate])
        let path = directory + "/intake.sock"
        let socket = try RawSocket(path: path)
        socket.write(Array(#"{"id":7,"op":"test.gate"}"#.utf8) + [10])
        let started = await eventually { gate.running == 1 }
        XCTAssertTrue(started)

        let shutdown = Task { await intake.shutdown(grace: .seconds(10)) }
        // The socket file goes away as shutdown begins.
        let draining = await eventually { !FileManager.default.fileExists(atPath: path) }
        XCTAssertTrue(draining)
        gate.openGate()
        let replies = await onThread { socket.readLines(2) }
        socket.closeSocket()
        await shutdown.value
        XCTAssertEqual(replies, [#"{"id":7,"echo":"test.gate","running":1}"#], "the reply, then the connection closes")
        try await group.shutdownGracefully()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// An op that outlives the intake's operation timeout is answered DeadlineExceeded; the connection goes on.
    func testOperationPastItsDeadlineIsAnswered() async throws {
        let gate = GateOperation(open: false)
        let (intake, group, directory) = try await startIntake(["test.gate": gate], timeout: .milliseconds(200))
        let path = directory + "/intake.sock"
        let replies = await onThread { () -> [String] in
            guard let socket = try? RawSocket(path: path) else { return [] }
            defer { socket.closeSocket() }
            socket.write(Array(#"{"id":"slow","op":"test.gate"}"#.utf8) + [10])
            var replies = socket.readLines(1)
            socket.write(Array(#"{"id":"p","op":"ping"}"#.utf8) + [10])
            replies += socket.readLines(1)
            return replies
        }
        XCTAssertEqual(replies.count, 2)
        XCTAssertTrue(replies.first?.hasPrefix(#"{"id":"slow","error":{"code":"DeadlineExceeded","message":"op \"test.gate\" did not finish within 0.2 seconds"#) == true, "\(replies)")
        XCTAssertEqual(replies.last, #"{"id":"p","pong":true}"#)
        gate.openGate()
        try await stop(intake, group, directory)
    }
}
