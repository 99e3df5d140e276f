import APNs
import JSON
import NIOCore

/// Asks a connection to finish: stop reading, answer what was accepted, then close.
struct IntakeDrainEvent: Sendable {}

/// One intake connection: request dispatch and replies; an ``IntakeConnectionStateMachine`` decides when to read,
/// which line to work on, when to flush and when to close, and this handler carries that out.
///
/// Threading: everything here runs on the channel's event loop. Results arrive on other threads into a
/// ``PendingBatch``; its completion hops back to this loop to write the reply.
///
/// Backpressure: reading stops (the outbound `read` is held back) while a batch waits for room at its
/// client (``APNsClient/trySend(_:completion:)`` said no), while the channel is not writable (the peer is
/// not reading its replies), or while ``IntakeConfiguration/maxOperationsPerConnection`` extension ops are
/// running. Nothing is buffered beyond one read and the line being worked on.
///
/// Replies are written as they are ready and flushed together: at the end of a read burst, or once per
/// event-loop tick for replies that complete (batches, ops) outside one.
///
/// Extension ops (``IntakeOperation``) run in tasks of their own; their replies hop back to this loop.
///
/// On a network connection the handler serves one authenticated ``IntakePrincipal``: an op outside its scopes is
/// answered `Forbidden` and the connection drains and closes (lines read after it are answered `Forbidden`, not
/// processed); notifications over its rate limit get a `RateLimited` result each, extension ops over it a
/// `RateLimited` error, and the connection stays open.
final class IntakeConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private struct Submission {
        var batch: PendingBatch
        var items: [ScannedItem]
        /// The items' payloads (nil where an item has none), copied out of the line into shared buffers of at most
        /// 32 KiB (``JSONObjectBytes/copying(_:of:chunkBytes:)``): notifications in flight never pin the line, and a
        /// request costs a few allocations for its payloads, not one per notification.
        var payloads: [JSONObjectBytes?]
        var next: Int
        /// Items from this index on are over the principal's rate limit, refused with this detail.
        var allowed: Int
        var rateLimitDetail: String?
    }

    private let shared: IntakeContext
    /// The network client this connection serves; nil on the Unix socket (every op allowed, no rate limit).
    private let principal: IntakePrincipal?
    /// A request was forbidden: the connection drains, and buffered lines are answered `Forbidden`.
    private var forbidden = false
    private var context: ChannelHandlerContext?
    private var machine: IntakeConnectionStateMachine
    /// The batch whose items are being handed to their clients (the machine's ``IntakeConnectionStateMachine/submission``).
    private var current: Submission?
    /// Extension ops running on this connection, by number, with their timeout timers.
    private var operations: [Int: Scheduled<Void>] = [:]
    private var nextOperation = 0
    /// When the last read arrived: one clock read per read, not per line. A line is worked on only when the
    /// read that completed it is the latest (reading waits while a complete line is buffered), so this dates
    /// the lines of that read for the added-latency figures.
    private var lastReadAt = NIODeadline.uptimeNanoseconds(0)

    init(context shared: IntakeContext, principal: IntakePrincipal? = nil) {
        self.shared = shared
        self.principal = principal
        self.machine = IntakeConnectionStateMachine(
            maxLineBytes: shared.configuration.maxLineBytes,
            maxOperations: shared.configuration.maxOperationsPerConnection)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        run(machine.writabilityChanged(context.channel.isWritable))
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        lastReadAt = .now()
        shared.bytesReceived.add(bytes.readableBytes, ordering: .relaxed)
        run(machine.bytesRead(bytes))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        run(machine.readComplete())
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        run(machine.writabilityChanged(context.channel.isWritable))
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IntakeDrainEvent {
            run(machine.drainRequested())
        } else if case ChannelEvent.inputClosed = event {
            run(machine.inputClosed())
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    // MARK: Outbound

    func read(context: ChannelHandlerContext) {
        run(machine.readRequested())
    }

    // MARK: Actions

    /// Carries out `action` and whatever the machine asks for next, until it has nothing more.
    private func run(_ action: IntakeConnectionStateMachine.Action) {
        var action = action
        while action != .none {
            guard let context else { return }
            switch action {
            case .none:
                break
            case .read:
                context.read()
            case .process(let line):
                handleLine(line, context: context)
            case .replyLineTooLong:
                let maxLine = shared.configuration.maxLineBytes
                reply(error: .lineTooLong, id: nil, "line longer than \(maxLine) bytes; skipped to its end")
            case .continueSubmission:
                continueSubmission()
            case .failUnsentItems:
                failUnsentItems()
            case .answerShuttingDown(let line):
                answerShuttingDown(line)
            case .flush:
                context.flush()
            case .scheduleFlush:
                let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
                context.eventLoop.execute { loopBound.value.flushDue() }
            case .close:
                let channel = context.channel
                context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(capacity: 0))).whenComplete { _ in
                    channel.close(promise: nil)
                }
            }
            action = machine.nextAction()
        }
    }

    private func flushDue() {
        run(machine.flushDue())
    }

    // MARK: Lines

    private func handleLine(_ line: ByteBuffer, context: ChannelHandlerContext) {
        shared.requests.add(1, ordering: .relaxed)
        let request = line.withUnsafeReadableBytes {
            RequestScanner.scan($0, maxBatchSize: shared.configuration.maxBatchSize)
        }
        if let principal, let op = request.op, case let (code, message)? = principal.refusal(forOp: op) {
            reply(error: code, id: request.id.map { slice(line, $0) }, message)
            if code == .forbidden {
                forbidden = true
                run(machine.drainRequested())
            }
            return
        }
        switch request {
        case .failure(let idRange, let code, let message):
            reply(error: code, id: idRange.map { slice(line, $0) }, message)
        case .ping(let idRange):
            var buffer = context.channel.allocator.buffer(capacity: 32)
            ReplyWriter.pong(id: slice(line, idRange), into: &buffer)
            writeReply(buffer)
        case .stats(let idRange):
            let buffer = shared.writeStats(id: slice(line, idRange), into: context.channel.allocator.buffer(capacity: 1024))
            writeReply(buffer)
        case .send(let idRange, let items):
            startSend(id: copy(line, idRange), items: items, line: line)
        case .other(let idRange, let op, let members):
            if let operation = shared.operations[op] {
                if let principal {
                    let (granted, retryAfter) = principal.admit(1)
                    if granted == 0 {
                        reply(error: .rateLimited, id: slice(line, idRange), rateLimitMessage(principal, retryAfter: retryAfter))
                        return
                    }
                }
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
            writeReply(buffer)
            return
        }
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        let batch = PendingBatch(id: id, count: items.count, readAt: lastReadAt) { batch in
            eventLoop.execute { loopBound.value.finish(batch) }
        }
        machine.batchStarted()
        shared.pendingRequests.add(1, ordering: .relaxed)
        var allowed = items.count
        var rateLimitDetail: String?
        if let principal {
            let (granted, retryAfter) = principal.admit(items.count)
            allowed = granted
            if granted < items.count { rateLimitDetail = rateLimitMessage(principal, retryAfter: retryAfter) }
        }
        let payloads = JSONObjectBytes.copying(items.map(\.payload), of: line)
        current = Submission(
            batch: batch, items: items, payloads: payloads, next: 0, allowed: allowed, rateLimitDetail: rateLimitDetail)
        continueSubmission()
    }

    /// Hands the current batch's remaining items to their clients; when a client is full, the connection
    /// waits for room.
    private func continueSubmission() {
        guard var submission = current, let context else { return }
        let routes = shared.routes
        let batch = submission.batch
        while submission.next < submission.items.count {
            let index = submission.next
            if index >= submission.allowed {
                shared.countRejection(.rateLimited)
                batch.set(index, LocalRejection(reason: .rateLimited, detail: submission.rateLimitDetail ?? "").result)
                submission.next += 1
                continue
            }
            let item = submission.items[index]
            let payload = submission.payloads[index]
            if item.channelID != nil {
                // A broadcast: one request for every subscribed activity. Rare and async; the client's bound on
                // outstanding notifications applies inside `broadcast`.
                switch routes.broadcast(for: item, payload: payload) {
                case .failure(let rejection):
                    shared.countRejection(rejection.reason)
                    batch.set(index, rejection.result)
                case .success(let (broadcast, client)):
                    Task {
                        let result = await client.broadcast(broadcast)
                        batch.set(index, result.asResult)
                    }
                }
                submission.next += 1
                continue
            }
            switch routes.notification(for: item, payload: payload) {
            case .failure(let rejection):
                shared.countRejection(rejection.reason)
                batch.set(index, rejection.result)
            case .success(let (notification, client)):
                let accepted = client.trySend(consume notification, to: batch, index: index)
                if !accepted {
                    current = submission
                    machine.submissionBlocked()
                    let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
                    let eventLoop = context.eventLoop
                    client.whenCapacityAvailable {
                        eventLoop.execute { loopBound.value.capacityAvailable() }
                    }
                    return
                }
            }
            submission.next += 1
        }
        current = nil
        machine.submissionCompleted()
    }

    private func capacityAvailable() {
        run(machine.capacityAvailable())
    }

    /// Answers the unsent items of the batch that waited for room with `Shutdown`.
    private func failUnsentItems() {
        guard let submission = current else { return }
        current = nil
        for index in submission.next..<submission.items.count {
            submission.batch.set(
                index, APNsResult(source: .gateway, reason: "Shutdown", detail: "the gateway is shutting down"))
        }
    }

    private func finish(_ batch: PendingBatch) {
        guard let context else { return }
        shared.pendingRequests.subtract(1, ordering: .relaxed)
        var buffer = context.channel.allocator.buffer(capacity: 64 + batch.count * 48)
        ReplyWriter.results(id: batch.id, into: &buffer, batch.forEachResult)
        write(buffer)
        batch.recordAddedLatency(writtenAt: .now(), into: shared.addedLatency)
        run(machine.batchFinished())
    }

    // MARK: Extension ops

    private func startOperation(
        _ operation: any IntakeOperation, op: String, id: ByteBuffer, line: ByteBuffer, members: JSONMemberCollector
    ) {
        guard let context else { return }
        shared.operationRequests.add(1, ordering: .relaxed)
        shared.pendingRequests.add(1, ordering: .relaxed)
        shared.operationStarted()
        machine.operationStarted()
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
        shared.pendingRequests.subtract(1, ordering: .relaxed)
        shared.operationFinished()
        if let code = reply.errorCode { shared.countError(named: code) }
        if let context {
            var buffer = context.channel.allocator.buffer(capacity: 16 + id.readableBytes + reply.members.readableBytes)
            ReplyWriter.members(id: id, reply.members, into: &buffer)
            write(buffer)
        }
        // Room for another op (reading resumes), or the last lines and the close after end of input or a drain.
        run(machine.operationFinished())
    }

    // MARK: Replies

    private func reply(error code: IntakeErrorCode, id: ByteBuffer?, _ message: String) {
        guard let context else { return }
        shared.countError(code)
        var buffer = context.channel.allocator.buffer(capacity: 96 + message.utf8.count)
        ReplyWriter.error(id: id, code: code, message: message, into: &buffer)
        writeReply(buffer)
    }

    /// "over the rate limit of …; retry in N ms".
    private func rateLimitMessage(_ principal: IntakePrincipal, retryAfter: Int) -> String {
        let limit = principal.rateLimit.map { "\($0.perSecond) notifications per second, bursts of \($0.burst)" } ?? ""
        return "over the rate limit of \"\(principal.name)\" (\(limit)); retry in \(retryAfter) ms"
    }

    /// Answers a line buffered when the drain began with `ShuttingDown` (or, after a forbidden request,
    /// `Forbidden`).
    private func answerShuttingDown(_ line: ByteBuffer) {
        let scanned = line.withUnsafeReadableBytes { RequestScanner.scan($0, maxBatchSize: Int.max) }
        var idRange: Range<Int>?
        switch scanned {
        case .send(let id, _), .ping(let id), .stats(let id), .other(let id, _, _): idRange = id
        case .failure(let id, _, _): idRange = id
        }
        if forbidden {
            reply(
                error: .forbidden, id: idRange.map { slice(line, $0) },
                "not processed: the connection closes after a forbidden request")
        } else {
            reply(error: .shuttingDown, id: idRange.map { slice(line, $0) }, "the gateway is shutting down; request not processed")
        }
    }

    /// Writes a reply that is not a batch's or an op's; the machine decides when it is flushed.
    private func writeReply(_ buffer: ByteBuffer) {
        write(buffer)
        machine.replyWritten()
    }

    /// Writes without flushing (see ``IntakeConnectionStateMachine``: replies are flushed together).
    private func write(_ buffer: ByteBuffer) {
        guard let context, context.channel.isActive else { return }
        context.write(wrapOutboundOut(buffer), promise: nil)
    }
}
