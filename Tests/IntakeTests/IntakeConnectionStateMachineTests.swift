import NIOCore
import XCTest

@testable import Intake

final class IntakeConnectionStateMachineTests: XCTestCase {
    typealias Machine = IntakeConnectionStateMachine
    typealias Action = IntakeConnectionStateMachine.Action

    private func bytes(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }
    private func line(_ text: String) -> Action { .process(ByteBuffer(string: text)) }

    /// The actions of one loop: `first`, then `nextAction()` until it says `.none`; replies the machine asks for
    /// are reported written, as the handler does.
    private func loop(_ machine: inout Machine, _ first: Action) -> [Action] {
        var actions: [Action] = []
        var action = first
        while action != .none {
            actions.append(action)
            switch action {
            case .replyLineTooLong, .answerShuttingDown: machine.replyWritten()
            default: break
            }
            action = machine.nextAction()
        }
        return actions
    }

    // MARK: Reading and lines

    func testLinesAreWorkedThroughInOrderThenTheHeldReadGoesOn() {
        var machine = Machine(maxLineBytes: 100, maxOperations: 4)
        XCTAssertEqual(machine.readRequested(), .read)
        XCTAssertEqual(loop(&machine, machine.bytesRead(bytes("a\n\n  \r\nb\r\nc"))), [line("a"), line("b")])
        XCTAssertEqual(machine.readComplete(), .none, "nothing was written")
        // The rest of the last line arrives; a read asked for while a complete line is buffered waits for it.
        XCTAssertEqual(machine.readRequested(), .read)
        XCTAssertEqual(loop(&machine, machine.bytesRead(bytes("\n"))), [line("c")])
        XCTAssertFalse(machine.readPending)
    }

    func testOverLongLinesAreSkippedAndAnsweredOnce() {
        var machine = Machine(maxLineBytes: 4, maxOperations: 4)
        XCTAssertEqual(
            loop(&machine, machine.bytesRead(bytes("abcd\nabcde\nxy"))), [line("abcd"), .replyLineTooLong])
        // An over-long line without its newline yet is dropped as it arrives and answered at its newline.
        XCTAssertEqual(loop(&machine, machine.bytesRead(bytes("zzzz"))), [])
        XCTAssertEqual(loop(&machine, machine.bytesRead(bytes("zzzz"))), [])
        XCTAssertEqual(loop(&machine, machine.bytesRead(bytes("zz\nok\n"))), [.replyLineTooLong, line("ok")])
    }

    // MARK: Backpressure

    func testNotWritableHoldsTheReadAndTheLinesUntilWritableAgain() {
        var machine = Machine(maxLineBytes: 100, maxOperations: 4, writable: false)
        XCTAssertTrue(machine.isPaused)
        XCTAssertEqual(machine.readRequested(), .none)
        XCTAssertTrue(machine.readPending)
        XCTAssertEqual(loop(&machine, machine.bytesRead(bytes("a\nb\n"))), [])
        XCTAssertEqual(machine.writabilityChanged(false), .none)
        XCTAssertEqual(loop(&machine, machine.writabilityChanged(true)), [line("a"), line("b"), .read])
        XCTAssertFalse(machine.readPending)
    }

    func testWritabilityLostWhileWritingStopsTheLoopAfterTheCurrentLine() {
        var machine = Machine(maxLineBytes: 100, maxOperations: 4)
        XCTAssertEqual(machine.bytesRead(bytes("a\nb\n")), line("a"))
        // The reply to "a" fills the channel; the event arrives inside the loop.
        machine.replyWritten()
        XCTAssertEqual(machine.writabilityChanged(false), .none)
        XCTAssertEqual(machine.nextAction(), .none)
        XCTAssertEqual(machine.readRequested(), .none)
        XCTAssertEqual(machine.readComplete(), .flush)
        XCTAssertEqual(loop(&machine, machine.writabilityChanged(true)), [line("b"), .read])
    }

    func testAFullClientHoldsReadingUntilItHasRoom() {
        var machine = Machine(maxLineBytes: 100, maxOperations: 4)
        XCTAssertEqual(machine.bytesRead(bytes("send1\nsend2\n")), line("send1"))
        machine.batchStarted()
        machine.submissionBlocked()
        XCTAssertEqual(machine.nextAction(), .none)
        XCTAssertEqual(machine.submission, .waitingForCapacity)
        XCTAssertEqual(machine.readRequested(), .none)
        XCTAssertEqual(machine.writabilityChanged(true), .none, "still waiting for room")

        XCTAssertEqual(machine.capacityAvailable(), .continueSubmission)
        machine.submissionCompleted()
        XCTAssertEqual(machine.nextAction(), line("send2"))
        machine.batchStarted()
        machine.submissionCompleted()
        XCTAssertEqual(machine.nextAction(), .read)
        XCTAssertEqual(machine.nextAction(), .none)
        XCTAssertEqual(machine.capacityAvailable(), .none, "nothing waits for room")
        XCTAssertEqual(machine.pendingRequests, 2)
    }

    func testRunningOperationsAtTheLimitHoldReading() {
        var machine = Machine(maxLineBytes: 100, maxOperations: 2)
        XCTAssertEqual(machine.bytesRead(bytes("op1\nop2\nop3\n")), line("op1"))
        machine.operationStarted()
        XCTAssertEqual(machine.nextAction(), line("op2"))
        machine.operationStarted()
        XCTAssertEqual(machine.nextAction(), .none, "two ops run: the third line waits")
        XCTAssertEqual(machine.readComplete(), .none)
        XCTAssertEqual(machine.readRequested(), .none)

        XCTAssertEqual(machine.operationFinished(), line("op3"))
        machine.operationStarted()
        XCTAssertEqual(machine.nextAction(), .scheduleFlush, "the finished op's reply goes out in this tick")
        XCTAssertEqual(machine.nextAction(), .none, "at the limit again: the read stays held")
        XCTAssertTrue(machine.readPending)
        XCTAssertEqual(loop(&machine, machine.operationFinished()), [.read])
        XCTAssertEqual(machine.flushDue(), .flush)
    }

    // MARK: Draining

    func testDrainAbandonsTheWaitingBatchAnswersBufferedLinesAndClosesWhenAllIsAnswered() {
        var machine = Machine(maxLineBytes: 4, maxOperations: 4)
        XCTAssertEqual(machine.bytesRead(bytes("send\nop\nping\ntoolong\npart")), line("send"))
        machine.batchStarted()
        machine.submissionBlocked()
        XCTAssertEqual(machine.nextAction(), .none)
        XCTAssertEqual(machine.readComplete(), .none)
        machine.operationStarted()  // an op from an earlier read still runs

        XCTAssertEqual(
            loop(&machine, machine.drainRequested()),
            [.failUnsentItems, .answerShuttingDown(ByteBuffer(string: "op")), .answerShuttingDown(ByteBuffer(string: "ping")),
             .replyLineTooLong, .scheduleFlush])
        XCTAssertEqual(machine.lifecycle, .draining)
        XCTAssertEqual(machine.submission, .none)
        XCTAssertEqual(machine.readRequested(), .none)
        XCTAssertEqual(machine.bytesRead(bytes("late\n")), .none, "nothing more is read")
        XCTAssertEqual(machine.readComplete(), .flush, "the end of a read burst flushes what is written")
        XCTAssertEqual(machine.capacityAvailable(), .none)
        XCTAssertEqual(machine.drainRequested(), .none)

        XCTAssertEqual(loop(&machine, machine.batchFinished()), [], "the op still runs")
        XCTAssertEqual(loop(&machine, machine.operationFinished()), [.close])
        XCTAssertEqual(machine.lifecycle, .closing)
        XCTAssertEqual(machine.flushDue(), .none, "the close flushed everything")
    }

    func testDrainOfAnIdleConnectionClosesAtOnce() {
        var machine = Machine(maxLineBytes: 100, maxOperations: 4)
        XCTAssertEqual(loop(&machine, machine.drainRequested()), [.close])
        XCTAssertEqual(machine.drainRequested(), .none)
        XCTAssertEqual(machine.inputClosed(), .none)
    }

    // MARK: End of input

    func testEndOfInputAnswersTheLastLineWithoutNewlineThenCloses() {
        var machine = Machine(maxLineBytes: 100, maxOperations: 4)
        XCTAssertEqual(loop(&machine, machine.bytesRead(bytes("a\nlast"))), [line("a")])
        XCTAssertEqual(loop(&machine, machine.inputClosed()), [line("last"), .close])
    }

    func testEndOfInputWaitsForPendingBatchesAndOperations() {
        var machine = Machine(maxLineBytes: 100, maxOperations: 4)
        XCTAssertEqual(machine.bytesRead(bytes("send\nop\n")), line("send"))
        machine.batchStarted()
        machine.submissionCompleted()
        XCTAssertEqual(machine.nextAction(), line("op"))
        machine.operationStarted()
        XCTAssertEqual(machine.nextAction(), .none)
        XCTAssertEqual(machine.readComplete(), .none)
        XCTAssertEqual(loop(&machine, machine.inputClosed()), [])
        XCTAssertEqual(machine.lifecycle, .inputClosed)
        XCTAssertEqual(loop(&machine, machine.batchFinished()), [.scheduleFlush])
        XCTAssertEqual(loop(&machine, machine.operationFinished()), [.close])
    }

    func testEndOfInputAnswersLinesHeldBackWhileNotWritableBeforeClosing() {
        var machine = Machine(maxLineBytes: 100, maxOperations: 4)
        XCTAssertEqual(machine.bytesRead(bytes("send\nping\nlast")), line("send"))
        machine.batchStarted()
        machine.submissionCompleted()
        machine.replyWritten()
        XCTAssertEqual(machine.writabilityChanged(false), .none)
        XCTAssertEqual(machine.nextAction(), .none)
        XCTAssertEqual(machine.readComplete(), .flush)
        XCTAssertEqual(loop(&machine, machine.inputClosed()), [])
        XCTAssertEqual(loop(&machine, machine.batchFinished()), [.scheduleFlush], "buffered lines come first")
        XCTAssertEqual(machine.flushDue(), .flush)
        XCTAssertEqual(loop(&machine, machine.writabilityChanged(true)), [line("ping"), line("last"), .close])
    }

    func testEndOfInputWhileAFullClientHoldsTheBatch() {
        var machine = Machine(maxLineBytes: 100, maxOperations: 4)
        XCTAssertEqual(machine.bytesRead(bytes("send")), .none)
        XCTAssertEqual(machine.inputClosed(), line("send"))
        machine.batchStarted()
        machine.submissionBlocked()
        XCTAssertEqual(machine.nextAction(), .none, "no close while items wait for room")
        XCTAssertEqual(machine.capacityAvailable(), .continueSubmission)
        machine.submissionCompleted()
        XCTAssertEqual(machine.nextAction(), .none, "no close while the batch is unanswered")
        XCTAssertEqual(machine.lifecycle, .inputClosed)
        XCTAssertEqual(loop(&machine, machine.batchFinished()), [.close])
    }

    // MARK: Flushing

    func testRepliesOfAReadBurstAreFlushedOnceAtItsEnd() {
        var machine = Machine(maxLineBytes: 100, maxOperations: 4)
        XCTAssertEqual(machine.bytesRead(bytes("a\n")), line("a"))
        machine.replyWritten()
        XCTAssertEqual(machine.nextAction(), .none)
        XCTAssertEqual(machine.bytesRead(bytes("b\n")), line("b"))
        machine.replyWritten()
        XCTAssertEqual(machine.nextAction(), .none)
        XCTAssertEqual(machine.unflushedReplies, 2)
        XCTAssertEqual(machine.readComplete(), .flush)
        XCTAssertEqual(machine.unflushedReplies, 0)
        XCTAssertEqual(machine.readComplete(), .none)
    }

    func testRepliesCompletingInOneTickShareOneScheduledFlush() {
        var machine = Machine(maxLineBytes: 100, maxOperations: 4)
        for _ in 0..<3 {
            machine.batchStarted()
            machine.submissionCompleted()
        }
        XCTAssertEqual(loop(&machine, machine.batchFinished()), [.scheduleFlush])
        XCTAssertEqual(loop(&machine, machine.batchFinished()), [])
        XCTAssertEqual(loop(&machine, machine.batchFinished()), [])
        XCTAssertEqual(machine.flushDue(), .flush)
        XCTAssertEqual(machine.flushDue(), .none)
        // A later completion schedules a flush of its own.
        machine.operationStarted()
        XCTAssertEqual(loop(&machine, machine.operationFinished()), [.scheduleFlush])
        XCTAssertEqual(machine.flushDue(), .flush)
    }

    func testAScheduledFlushFindsNothingAfterAReadBurstFlushed() {
        var machine = Machine(maxLineBytes: 100, maxOperations: 4)
        machine.batchStarted()
        machine.submissionCompleted()
        XCTAssertEqual(loop(&machine, machine.batchFinished()), [.scheduleFlush])
        XCTAssertEqual(machine.bytesRead(bytes("a\n")), line("a"))
        machine.replyWritten()
        XCTAssertEqual(machine.nextAction(), .none)
        XCTAssertEqual(machine.readComplete(), .flush)
        XCTAssertEqual(machine.flushDue(), .none)
    }

    func testEventsInsideTheLoopOnlyChangeTheState() {
        var machine = Machine(maxLineBytes: 100, maxOperations: 4)
        XCTAssertEqual(machine.bytesRead(bytes("a\nb\n")), line("a"))
        machine.replyWritten()
        XCTAssertEqual(machine.readComplete(), .none, "the loop still runs")
        XCTAssertEqual(machine.readRequested(), .none)
        XCTAssertEqual(machine.writabilityChanged(true), .none)
        XCTAssertEqual(machine.nextAction(), line("b"))
        // The loop passes the held read on and flushes the replies in this tick.
        XCTAssertEqual(loop(&machine, machine.nextAction()), [.read, .scheduleFlush])
        XCTAssertEqual(machine.flushDue(), .flush)
    }
}
