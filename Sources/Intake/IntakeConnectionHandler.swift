import APNs
import JSON
import NIOCore

/// Asks a connection to finish: stop reading, answer what was accepted, then close.
struct IntakeDrainEvent: Sendable {}

/// One intake connection: bounded line framing, request dispatch, replies and backpressure.
///
/// Threading: everything here runs on the channel's event loop. Results arrive on other threads into a
/// ``PendingBatch``; its completion hops back to this loop to write the reply.
///
/// Backpressure: reading stops (the outbound `read` is held back) while a batch waits for room at its
/// client (``APNsClient/trySend(_:completion:)`` said no), while the channel is not writable (the peer is
/// not reading its replies), or while ``IntakeConfiguration/maxOperationsPerConnection`` extension ops are
/// running. Nothing is buffered beyond one read and the line being worked on.
///
/// Extension ops (``IntakeOperation``) run in tasks of their own; their replies hop back to this loop.
final class IntakeConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private struct Submission {
        var batch: PendingBatch
        var items: [ScannedItem]
        var line: ByteBuffer
        var next: Int
    }

    private let shared: IntakeContext
    private var context: ChannelHandlerContext?
    private var input: ByteBuffer?
    /// Where the newline search resumes in `input` (relative to its reader index).
    private var searchedUpTo = 0
    /// Skipping the rest of an over-long line.
    private var discarding = false
    private var current: Submission?
    private var waitingForCapacity = false
    private var writable = true
    private var draining = false
    private var inputClosed = false
    private var readPending = false
    private var pendingBatches = 0
    /// Extension ops running on this connection, by number, with their timeout timers.
    private var operations: [Int: Scheduled<Void>] = [:]
    private var nextOperation = 0
    private var closing = false
    /// Set while `processInput` runs: a write inside it may report writability, which must not re-enter.
    private var processing = false

    init(context shared: IntakeContext) {
        self.shared = shared
    }

    private var paused: Bool {
        waitingForCapacity || !writable || draining || closing
            || operations.count >= shared.configuration.maxOperationsPerConnection
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        writable = context.channel.isWritable
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        shared.bytesReceived.add(bytes.readableBytes, ordering: .relaxed)
        if draining || closing { return }
        if var buffer = input, buffer.readableBytes > 0 {
            input = nil  // keeps the storage uniquely referenced, so appending does not copy it
            // Compact once the consumed part outweighs the rest: amortised linear, and the storage never grows
            // beyond about twice the longest line plus one read.
            if buffer.readerIndex >= buffer.readableBytes { buffer.discardReadBytes() }
            buffer.writeBuffer(&bytes)
            input = buffer
        } else {
            input = bytes
            searchedUpTo = 0
        }
        processInput()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        writable = context.channel.isWritable
        if writable { processInput() }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IntakeDrainEvent {
            beginDrain()
        } else if case ChannelEvent.inputClosed = event {
            inputClosed = true
            processInput()
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    // MARK: Outbound

    func read(context: ChannelHandlerContext) {
        if paused || hasCompleteLine {
            readPending = true
        } else {
            context.read()
        }
    }

    // MARK: Lines

    private var hasCompleteLine: Bool {
        guard let input, input.readableBytes > searchedUpTo else { return false }
        return input.readableBytesView.dropFirst(searchedUpTo).contains(UInt8(ascii: "\n"))
    }

    /// Works through buffered lines until paused or out of complete lines, then asks for more input.
    private func processInput() {
        guard let context, !processing else { return }
        processing = true
        defer { processing = false }
        if paused { return }
        if current != nil && !continueSubmission() { return }
        while !paused, let line = nextLine() {
            handleLine(line, context: context)
        }
        if paused { return }
        if inputClosed {
            if let rest = input, rest.readableBytes > 0, !discarding {
                input = nil
                handleLine(rest, context: context)
                if paused { return }
            }
            input = nil
            closeWhenIdle()
            return
        }
        if readPending {
            readPending = false
            context.read()
        }
    }

    /// The next complete line (without its newline), handling over-long lines on the way.
    private func nextLine() -> ByteBuffer? {
        guard var buffer = input else { return nil }
        let maxLine = shared.configuration.maxLineBytes
        while true {
            let view = buffer.readableBytesView
            let start = view.startIndex + searchedUpTo
            guard let newline = view[start...].firstIndex(of: UInt8(ascii: "\n")) else {
                if discarding || view.count > maxLine {
                    if !discarding { discarding = true }
                    buffer.moveReaderIndex(forwardBy: view.count)
                    input = nil
                    searchedUpTo = 0
                } else {
                    searchedUpTo = view.count
                    input = buffer
                }
                return nil
            }
            let length = newline - view.startIndex
            if discarding || length > maxLine {
                buffer.moveReaderIndex(forwardBy: length + 1)
                searchedUpTo = 0
                discarding = false
                input = buffer
                reply(error: .lineTooLong, id: nil, "line longer than \(maxLine) bytes; skipped to its end")
                continue
            }
            var line = buffer.readSlice(length: length + 1)!
            line.moveWriterIndex(to: line.writerIndex - 1)
            if line.readableBytes > 0, line.getInteger(at: line.writerIndex - 1, as: UInt8.self) == 0x0D {
                line.moveWriterIndex(to: line.writerIndex - 1)
            }
            searchedUpTo = 0
            input = buffer.readableBytes > 0 ? buffer : nil
            if isBlank(line) { continue }
            return line
        }
    }

    private func isBlank(_ line: ByteBuffer) -> Bool {
        line.readableBytesView.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
    }

    private func handleLine(_ line: ByteBuffer, context: ChannelHandlerContext) {
        shared.requests.add(1, ordering: .relaxed)
        let request = line.withUnsafeReadableBytes {
            RequestScanner.scan($0, maxBatchSize: shared.configuration.maxBatchSize)
        }
        switch request {
        case .failure(let idRange, let code, let message):
            reply(error: code, id: idRange.map { slice(line, $0) }, message)
        case .ping(let idRange):
            var buffer = context.channel.allocator.buffer(capacity: 32)
            ReplyWriter.pong(id: slice(line, idRange), into: &buffer)
            write(buffer)
        case .stats(let idRange):
            let buffer = shared.writeStats(id: slice(line, idRange), into: context.channel.allocator.buffer(capacity: 1024))
            write(buffer)
        case .send(let idRange, let items):
            startSend(id: copy(line, idRange), items: items, line: line)
        case .other(let idRange, let op, let members):
            if let operation = shared.operations[op] {
                startOperation(operation, op: op, id: copy(line, idRange), line: line, members: members)
            } else {
                let shown = op.utf8.count > 40 ? String(op.prefix(40)) + "…" : op
                reply(error: .unknownOp, id: slice(line, idRange), "unknown op \"\(shown)\"; known: \(shared.knownOps)")
            }
        }
    }

    private func slice(_ line: ByteBuffer, _ range: Range<Int>) -> ByteBuffer {
        line.getSlice(at: line.readerIndex + range.lowerBound, length: range.count) ?? ByteBuffer()
    }

    private func copy(_ line: ByteBuffer, _ range: Range<Int>) -> ByteBuffer {
        IntakeLineDecoding.copy(line, range)
    }

    // MARK: Sending

    private func startSend(id: ByteBuffer, items: [ScannedItem], line: ByteBuffer) {
        guard let context else { return }
        shared.notifications.add(items.count, ordering: .relaxed)
        if items.isEmpty {
            var buffer = context.channel.allocator.buffer(capacity: 32)
            ReplyWriter.results(id: id, [], into: &buffer)
            write(buffer)
            return
        }
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        let batch = PendingBatch(id: id, count: items.count) { batch in
            eventLoop.execute { loopBound.value.finish(batch) }
        }
        pendingBatches += 1
        shared.pendingRequests.add(1, ordering: .relaxed)
        current = Submission(batch: batch, items: items, line: line, next: 0)
        _ = continueSubmission()
    }

    /// Hands the current batch's remaining items to their clients. Returns false when a client is full: the
    /// connection then waits for room.
    private func continueSubmission() -> Bool {
        guard var submission = current, let context else { return true }
        let routes = shared.routes
        let batch = submission.batch
        while submission.next < submission.items.count {
            let index = submission.next
            let item = submission.items[index]
            // A copy of the payload's bytes (not a slice), so that notifications in flight never pin the input
            // buffer's storage.
            let payload = item.payload.map { JSONObjectBytes(copying: $0, of: submission.line) }
            switch routes.notification(for: item, payload: payload) {
            case .failure(let rejection):
                shared.countRejection(rejection.reason)
                batch.set(index, rejection.result)
            case .success(let (notification, client)):
                let accepted = client.trySend(notification) { result in batch.set(index, result) }
                if !accepted {
                    current = submission
                    waitingForCapacity = true
                    let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
                    let eventLoop = context.eventLoop
                    client.whenCapacityAvailable {
                        eventLoop.execute { loopBound.value.capacityAvailable() }
                    }
                    return false
                }
            }
            submission.next += 1
        }
        current = nil
        return true
    }

    private func capacityAvailable() {
        guard waitingForCapacity else { return }
        waitingForCapacity = false
        processInput()
    }

    private func finish(_ batch: PendingBatch) {
        guard let context else { return }
        pendingBatches -= 1
        shared.pendingRequests.subtract(1, ordering: .relaxed)
        var buffer = context.channel.allocator.buffer(capacity: 64 + batch.count * 48)
        ReplyWriter.results(id: batch.id, batch.results(), into: &buffer)
        write(buffer)
        if (draining || inputClosed) && current == nil { closeWhenIdle() }
    }

    // MARK: Extension ops

    private func startOperation(
        _ operation: any IntakeOperation, op: String, id: ByteBuffer, line: ByteBuffer, members: JSONMemberCollector
    ) {
        guard let context else { return }
        shared.operationRequests.add(1, ordering: .relaxed)
        shared.pendingRequests.add(1, ordering: .relaxed)
        shared.operationStarted()
        pendingBatches += 1
        nextOperation += 1
        let number = nextOperation
        // The members over a copy of the line, so that a running op never pins the input buffer's storage.
        let request = IntakeRequest(op: op, id: id, members: members.object(in: copy(line, 0..<line.readableBytes)))
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        let timeout = shared.configuration.operationTimeout
        operations[number] = eventLoop.scheduleTask(in: timeout) {
            let seconds = Double(timeout.nanoseconds) / 1e9
            let reply = IntakeReply.error(
                code: IntakeErrorCode.deadlineExceeded.rawValue,
                message: "op \"\(op)\" did not finish within \(seconds) seconds; its outcome is unknown")
            loopBound.value.finishOperation(number, id: id, reply)
        }
        Task {
            let reply = await operation.handle(request)
            eventLoop.execute { loopBound.value.finishOperation(number, id: id, reply) }
        }
    }

    /// Writes an op's reply; the first of its reply and its timeout wins.
    private func finishOperation(_ number: Int, id: ByteBuffer, _ reply: IntakeReply) {
        guard let timer = operations.removeValue(forKey: number) else { return }
        timer.cancel()
        pendingBatches -= 1
        shared.pendingRequests.subtract(1, ordering: .relaxed)
        shared.operationFinished()
        if let code = reply.errorCode { shared.countError(named: code) }
        if let context {
            var buffer = context.channel.allocator.buffer(capacity: 16 + id.readableBytes + reply.members.readableBytes)
            ReplyWriter.members(id: id, reply.members, into: &buffer)
            write(buffer)
        }
        if draining {
            if current == nil { closeWhenIdle() }
        } else {
            // Room for another op (reading resumes), or after end of input the last lines and the close.
            processInput()
        }
    }

    // MARK: Replies and closing

    private func reply(error code: IntakeErrorCode, id: ByteBuffer?, _ message: String) {
        guard let context else { return }
        shared.countError(code)
        var buffer = context.channel.allocator.buffer(capacity: 96 + message.utf8.count)
        ReplyWriter.error(id: id, code: code, message: message, into: &buffer)
        write(buffer)
    }

    private func write(_ buffer: ByteBuffer) {
        guard let context, context.channel.isActive else { return }
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    /// Stops reading; unsent items of a waiting batch get `Shutdown`, complete buffered lines get
    /// `ShuttingDown`; the connection closes once every accepted notification is answered.
    private func beginDrain() {
        guard !draining, context != nil else { return }
        draining = true
        if let submission = current {
            current = nil
            waitingForCapacity = false
            for index in submission.next..<submission.items.count {
                submission.batch.set(
                    index, APNsResult(source: .gateway, reason: "Shutdown", detail: "the gateway is shutting down"))
            }
        }
        while let line = nextLine() {
            let scanned = line.withUnsafeReadableBytes { RequestScanner.scan($0, maxBatchSize: Int.max) }
            var idRange: Range<Int>?
            switch scanned {
            case .send(let id, _), .ping(let id), .stats(let id), .other(let id, _, _): idRange = id
            case .failure(let id, _, _): idRange = id
            }
            reply(error: .shuttingDown, id: idRange.map { slice(line, $0) }, "the gateway is shutting down; request not processed")
        }
        input = nil
        closeWhenIdle()
    }

    private func closeWhenIdle() {
        guard !closing, pendingBatches == 0, current == nil, let context else { return }
        // After end of input, lines still buffered (held back while the peer was not reading) come first.
        guard draining || (input?.readableBytes ?? 0) == 0 else { return }
        closing = true
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(capacity: 0))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }
}
