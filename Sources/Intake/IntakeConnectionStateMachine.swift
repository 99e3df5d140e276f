import NIOCore

/// One intake connection's reading, backpressure, draining and closing as a value type: no I/O.
/// ``IntakeConnectionHandler`` owns one, reports every event and carries out the actions it gets back.
///
/// Reading stops (a `read` from the pipeline is held back) while a batch waits for room at its client, while the
/// channel is not writable, while ``IntakeConfiguration/maxOperationsPerConnection`` extension ops run, and once
/// the connection drains or closes. Buffered lines are worked through one action at a time: after any action
/// other than ``Action/none`` the owner asks ``nextAction()`` again, until it says ``Action/none``. While that
/// loop runs, events that happen on the way (a write reporting writability, say) only change the state and
/// return ``Action/none``; the running loop picks them up.
///
/// Replies are written without a flush; the machine decides when they go out: at the end of a read burst
/// (``readComplete()``), otherwise once per event-loop tick (``Action/scheduleFlush``, then ``flushDue()``),
/// so replies that complete together leave in one flush and none waits longer than the current tick.
struct IntakeConnectionStateMachine {
    enum Lifecycle: Equatable {
        /// Reading and answering.
        case open
        /// The peer finished writing: answer what is buffered (the last line may lack its newline), then close.
        case inputClosed
        /// Shutting down: no new requests; close once every accepted request is answered.
        case draining
        /// The close is under way.
        case closing
    }

    /// The `send` batch whose items are being handed to their clients (at most one at a time).
    enum Submission: Equatable {
        case none
        /// Items remain and their client has room again: hand them on.
        case resumable
        /// The client of the next item was full; reading stops until it has room.
        case waitingForCapacity
        /// The connection drains: the remaining items are answered `Shutdown`.
        case abandoned
    }

    /// What the owner must do.
    enum Action: Equatable {
        case none
        /// Pass the held `read` on.
        case read
        /// Scan this request line and carry it out (a reply, a batch or an op).
        case process(ByteBuffer)
        /// Answer `LineTooLong` for a line that was skipped.
        case replyLineTooLong
        /// Hand the current batch's remaining items to their clients.
        case continueSubmission
        /// Answer the current batch's unsent items with `Shutdown`.
        case failUnsentItems
        /// Answer this buffered line with `ShuttingDown`.
        case answerShuttingDown(ByteBuffer)
        /// Flush the replies written.
        case flush
        /// Flush the replies written later in this event-loop tick (call ``flushDue()`` then).
        case scheduleFlush
        /// Flush everything written, then close the channel.
        case close
    }

    private(set) var lifecycle = Lifecycle.open
    private(set) var submission = Submission.none
    private(set) var writable: Bool
    /// `send` batches and extension ops accepted and not yet answered.
    private(set) var pendingRequests = 0
    private(set) var runningOperations = 0
    /// A `read` from the pipeline is held back.
    private(set) var readPending = false
    private var framer: IntakeLineFramer
    private let maxOperations: Int
    /// An action loop runs (``nextAction()`` has not yet said ``Action/none``).
    private var processing = false
    /// Between a read and its read-complete: that flushes.
    private var inReadBurst = false
    /// Replies written and not yet flushed.
    private(set) var unflushedReplies = 0
    private var flushScheduled = false

    init(maxLineBytes: Int, maxOperations: Int, writable: Bool = true) {
        self.framer = IntakeLineFramer(maxLineBytes: maxLineBytes)
        self.maxOperations = maxOperations
        self.writable = writable
    }

    /// Reading is held back, and buffered lines wait.
    var isPaused: Bool {
        submission == .waitingForCapacity || !writable || runningOperations >= maxOperations
            || lifecycle == .draining || lifecycle == .closing
    }

    private var isIdle: Bool { pendingRequests == 0 && submission == .none }

    // MARK: Events

    /// The pipeline asks for more input.
    mutating func readRequested() -> Action {
        // While the loop runs, it passes the read on once it is done with the buffered lines.
        if processing || isPaused || framer.hasCompleteLine {
            readPending = true
            return .none
        }
        return .read
    }

    /// Bytes arrived (ignored once the connection drains or closes).
    mutating func bytesRead(_ bytes: ByteBuffer) -> Action {
        inReadBurst = true
        if lifecycle == .draining || lifecycle == .closing { return .none }
        framer.append(bytes)
        return startProcessing()
    }

    /// The read burst ended: replies written during it go out.
    mutating func readComplete() -> Action {
        inReadBurst = false
        // While the loop runs, it schedules the flush when it is done.
        return processing ? .none : takeFlush()
    }

    mutating func writabilityChanged(_ writable: Bool) -> Action {
        self.writable = writable
        return writable ? startProcessing() : .none
    }

    /// The peer half-closed the connection.
    mutating func inputClosed() -> Action {
        if lifecycle == .open { lifecycle = .inputClosed }
        return startProcessing()
    }

    /// The gateway shuts down: stop reading, answer what was accepted, close.
    mutating func drainRequested() -> Action {
        guard lifecycle == .open || lifecycle == .inputClosed else { return .none }
        lifecycle = .draining
        if submission != .none { submission = .abandoned }
        return startProcessing()
    }

    /// A `send` batch was accepted; its items are handed to their clients now (``submissionBlocked()`` or
    /// ``submissionCompleted()`` follows).
    mutating func batchStarted() {
        pendingRequests += 1
        submission = .resumable
    }

    /// The client of the next item has no room: the owner waits for it, then reports ``capacityAvailable()``.
    mutating func submissionBlocked() {
        submission = .waitingForCapacity
    }

    /// Every item of the current batch is with its client (or answered).
    mutating func submissionCompleted() {
        submission = .none
    }

    /// The client the current batch waits for has room again.
    mutating func capacityAvailable() -> Action {
        guard submission == .waitingForCapacity else { return .none }
        submission = .resumable
        return startProcessing()
    }

    /// A batch's reply was written.
    mutating func batchFinished() -> Action {
        pendingRequests -= 1
        unflushedReplies += 1
        return startProcessing()
    }

    /// An extension op was accepted and runs.
    mutating func operationStarted() {
        pendingRequests += 1
        runningOperations += 1
    }

    /// An extension op's reply (or its timeout's) was written.
    mutating func operationFinished() -> Action {
        pendingRequests -= 1
        runningOperations -= 1
        unflushedReplies += 1
        return startProcessing()
    }

    /// A reply was written (not a batch's or an op's: those report their own events).
    mutating func replyWritten() {
        unflushedReplies += 1
    }

    /// The flush asked for by ``Action/scheduleFlush`` is due.
    mutating func flushDue() -> Action {
        flushScheduled = false
        return processing ? .none : takeFlush()
    }

    // MARK: The action loop

    private mutating func startProcessing() -> Action {
        if processing { return .none }
        processing = true
        return nextAction()
    }

    /// After carrying out an action: the next thing to do; ``Action/none`` when there is nothing until the next
    /// event.
    mutating func nextAction() -> Action {
        guard processing else { return .none }
        let action = step()
        if action == .none { processing = false }
        return action
    }

    private mutating func step() -> Action {
        switch lifecycle {
        case .closing:
            return .none
        case .draining:
            if submission == .abandoned {
                submission = .none
                return .failUnsentItems
            }
            switch framer.next() {
            case .line(let line): return .answerShuttingDown(line)
            case .tooLong: return .replyLineTooLong
            case .none: break
            }
            framer.clear()
            return closeIfIdle() ?? endOfLoop()
        case .open, .inputClosed:
            break
        }
        if !isPaused {
            if submission == .resumable { return .continueSubmission }
            switch framer.next() {
            case .line(let line): return .process(line)
            case .tooLong: return .replyLineTooLong
            case .none: break
            }
            if lifecycle == .inputClosed, let rest = framer.takeRest() {
                return .process(rest)
            }
        }
        if lifecycle == .inputClosed {
            // Lines still buffered (held back while the peer was not reading) come before the close.
            if framer.isEmpty, let close = closeIfIdle() { return close }
            return endOfLoop()
        }
        if !isPaused && readPending {
            readPending = false
            return .read
        }
        return endOfLoop()
    }

    private mutating func closeIfIdle() -> Action? {
        guard isIdle else { return nil }
        lifecycle = .closing
        unflushedReplies = 0
        return .close
    }

    /// The loop is done: written replies are flushed at the end of the read burst, or later in this tick.
    private mutating func endOfLoop() -> Action {
        guard unflushedReplies > 0, !inReadBurst, !flushScheduled else { return .none }
        flushScheduled = true
        return .scheduleFlush
    }

    private mutating func takeFlush() -> Action {
        guard unflushedReplies > 0, lifecycle != .closing else { return .none }
        unflushedReplies = 0
        return .flush
    }
}
