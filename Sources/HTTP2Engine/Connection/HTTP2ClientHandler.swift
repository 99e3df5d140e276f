import NIOCore
import Synchronization

/// Figures of one connection that other threads may read.
final class HTTP2ConnectionGauges: Sendable {
    /// Streams open on the connection.
    let inFlight = Atomic<Int>(0)
    /// The server's current stream limit, capped by the configuration; 0 until known.
    let streamLimit = Atomic<Int>(0)
    /// The server's connection-level receive window, as it announced it (65,535 and what its WINDOW_UPDATEs added
    /// beyond acknowledging data): at most this many request-body bytes can be on their way at once.
    let serverWindow = Atomic<Int>(0)
}

/// Drives one client connection: TLS through ``TLSConnection``, HTTP/2 through ``NGHTTP2Session``, bytes
/// through NIO.
///
/// Reads parse, refill free stream slots from the pool, then hand the answers over (the refill's requests are
/// on their way to the server while the answers are processed). A refill happens at the end of a read burst
/// (`channelReadComplete`), as soon as a quarter of the streams are free in the middle of one, after a wake-up
/// from the pool, or on a timer tick. Its frames are written about one TLS record (16 KiB) at a time,
/// as h2load does: each chunk goes through one `SSL_write` and one socket write, so the server works on the
/// first chunk while the next is encoded, instead of both sides taking turns over whole batches. Everything
/// here runs on the channel's event loop.
final class HTTP2ClientHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let connectionID: Int
    private let configuration: HTTP2ConnectionConfiguration
    private let tls: TLSConnection
    private var session: NGHTTP2Session?
    private weak var delegate: (any HTTP2ConnectionDelegate)?
    /// The lifecycle, keep-alive and timeout decisions; this handler carries out its actions.
    private var machine: HTTP2ConnectionStateMachine
    private var context: ChannelHandlerContext?

    private var plaintextOut: ByteBuffer
    private var readScratch: UnsafeMutableRawBufferPointer
    private var headerWriter = HTTP2HeaderWriter()
    private var batch: [any HTTP2Exchange] = []
    private var completedScratch: [HTTP2Stream] = []
    private var unsent: [any HTTP2Exchange] = []
    private var inReadBurst = false
    /// When the answers of the current read arrived, until they are handed over (after the refill it started).
    private var answersReadAt: NIODeadline?
    /// Set while ``fillAndFlush(context:)`` takes exchanges from the pool and submits them.
    private var isFilling = false
    /// A refill for work the pool left queued is on the event loop's task queue.
    private var refillScheduled = false
    /// Plaintext queued by the current refill and not yet written, estimated from the requests submitted.
    private var unflushedEstimate = 0
    /// A running average of request body sizes (bytes), for ``streamsTheWindowTakes(_:)``.
    private var averageBodyBytes = 256
    /// About one TLS record: a refill writes each time this much is queued (h2load backs off at 16 KiB too),
    /// so the server starts on the first requests while the rest are being encoded.
    private static let writeChunkBytes = 16 * 1024

    private var tick: RepeatedTask?
    /// Figures the pool reads from other threads.
    let gauges: HTTP2ConnectionGauges

    init(
        connectionID: Int,
        configuration: HTTP2ConnectionConfiguration,
        tls: TLSConnection,
        delegate: any HTTP2ConnectionDelegate
    ) {
        self.connectionID = connectionID
        self.configuration = configuration
        self.tls = tls
        self.machine = HTTP2ConnectionStateMachine(configuration: configuration, now: .now())
        self.delegate = delegate
        self.gauges = HTTP2ConnectionGauges()
        self.plaintextOut = ByteBufferAllocator().buffer(capacity: 64 * 1024)
        self.readScratch = .allocate(byteCount: 64 * 1024, alignment: 16)
        batch.reserveCapacity(256)
    }

    deinit {
        readScratch.deallocate()
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive {
            startHandshake(context: context)
        }
    }

    func channelActive(context: ChannelHandlerContext) {
        startHandshake(context: context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        machine.bytesReceived(now: .now())
        tls.receiveCiphertext(bytes)
        inReadBurst = true
        switch machine.state {
        case .handshaking:
            continueHandshake(context: context)
            if machine.state != .handshaking {
                readPlaintext(context: context)
            }
        case .waitingForSettings, .active, .draining:
            readPlaintext(context: context)
        case .closed:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        inReadBurst = false
        fillAndFlush(context: context)
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        close(context: context, reason: .transport("the server closed the connection"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        close(context: context, reason: .transport("\(error)"))
    }

    // MARK: Commands from the pool (already hopped onto this loop)

    /// Work is queued: pull what fits and send it.
    func wake() {
        guard let context else { return }
        fillAndFlush(context: context)
    }

    /// Stops opening streams, lets open ones finish, then closes. After `deadline`, closes regardless.
    func drain(deadline: NIODeadline) {
        guard let context else { return }
        switch machine.drainRequested() {
        case .close(let reason):
            finishClose(context: context, reason: reason)
        case .startDraining:
            session?.terminate()
            flush(context: context)
            closeIfDrained(context: context)
            if machine.state == .draining {
                context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
                    if let context = self.context {
                        self.close(context: context, reason: .closedLocally)
                    }
                }
            }
        default:
            break
        }
    }

    // MARK: Handshake

    private func startHandshake(context: ChannelHandlerContext) {
        guard machine.state == .handshaking, tick == nil else { return }
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        tick = context.eventLoop.scheduleRepeatedTask(
            initialDelay: configuration.tickInterval,
            delay: configuration.tickInterval
        ) { _ in
            handler.value.onTick()
        }
        continueHandshake(context: context)
    }

    private func continueHandshake(context: ChannelHandlerContext) {
        switch tls.handshake() {
        case .incomplete:
            writeCiphertext(context: context)
        case .failed(let error):
            writeCiphertext(context: context)
            close(context: context, reason: .tls(error))
        case .complete:
            switch machine.handshakeCompleted(alpn: tls.negotiatedALPN) {
            case .startSession:
                do {
                    let session = try NGHTTP2Session()
                    try session.start()
                    self.session = session
                    flush(context: context)
                } catch {
                    close(context: context, reason: .protocolError("\(error)"))
                }
            case .close(let reason):
                finishClose(context: context, reason: reason)
            default:
                break
            }
        }
    }

    // MARK: Reading

    private func readPlaintext(context: ChannelHandlerContext) {
        guard let session else { return }
        while !machine.isClosed {
            switch tls.readPlaintext(into: readScratch) {
            case .bytes(let count):
                do {
                    try session.receive(UnsafeRawBufferPointer(rebasing: readScratch[0..<count]))
                } catch {
                    close(context: context, reason: .protocolError("\(error)"))
                    return
                }
                // Refill as soon as a quarter of the streams are free, rather than after the whole read burst,
                // and before this read's answers are handed over: the window and stream slots they freed go to
                // new requests first, which the server works on while the answers are processed here (those
                // still come back in the refill's first write chunk, see `flush`).
                answersReadAt = .now()
                handleControlEvents(context: context)
                if case .active = machine.state {
                    let limit = gauges.streamLimit.load(ordering: .relaxed)
                    if limit - session.openStreams.count >= max(1, limit / 4) {
                        fillAndFlush(context: context)
                    }
                }
                handleSessionEvents(context: context)
                answersReadAt = nil
            case .wantMore:
                return
            case .closed:
                close(context: context, reason: .transport("the server closed the TLS session"))
                return
            case .failed(let error):
                close(context: context, reason: .tls(error))
                return
            }
        }
    }

    /// Acts on what the session recorded during the last receive or send.
    private func handleSessionEvents(context: ChannelHandlerContext) {
        guard let session else { return }
        if !session.completedStreams.isEmpty {
            // Swap buffers rather than copy: both arrays keep their storage from batch to batch.
            swap(&completedScratch, &session.completedStreams)
            gauges.inFlight.store(session.openStreams.count, ordering: .relaxed)
            // One clock read for the whole batch: every response in it was read at the same moment.
            let now = answersReadAt ?? .now()
            answersReadAt = nil
            for stream in completedScratch {
                handOver(stream, receivedAt: now)
                session.recycle(stream)
            }
            completedScratch.removeAll(keepingCapacity: true)
        }
        handleControlEvents(context: context)
    }

    /// Gives a closed stream's result to its exchange (or back to the pool when the request was not sent). The
    /// response is gone when this returns, so the stream's field storage is unshared again for its next use.
    private func handOver(_ stream: HTTP2Stream, receivedAt: NIODeadline) {
        let result = stream.deadlinePassed ? .failure(.deadlineExceeded) : stream.result(receivedAt: receivedAt)
        if case .failure(let error) = result, error.isNotSent {
            unsent.append(stream.exchange)
        } else {
            stream.exchange.complete(result)
        }
    }

    /// Acts on the connection-level events of the last receive: a ping's acknowledgement, new settings, GOAWAY,
    /// and the return of refused streams to the pool. Cheap; answers are handed over by ``handleSessionEvents(context:)``.
    private func handleControlEvents(context: ChannelHandlerContext) {
        guard let session else { return }
        if session.serverConnectionWindow != gauges.serverWindow.load(ordering: .relaxed) {
            gauges.serverWindow.store(session.serverConnectionWindow, ordering: .relaxed)
        }
        if session.pingAcknowledged {
            session.pingAcknowledged = false
            machine.pingAcknowledged()
        }
        if session.settingsChanged {
            session.settingsChanged = false
            switch machine.settingsReceived(maxConcurrentStreams: session.remoteMaxConcurrentStreams) {
            case .announceReady(let limit):
                gauges.streamLimit.store(limit, ordering: .relaxed)
                delegate?.connectionReady(connectionID, maxStreams: limit)
            case .updateStreamLimit(let limit):
                gauges.streamLimit.store(limit, ordering: .relaxed)
            default:
                break
            }
        }
        if let goAway = session.goAway,
           case .announceGoingAway(let reason) = machine.goAwayReceived(errorCode: goAway.errorCode, debugData: goAway.debugData) {
            delegate?.connectionGoingAway(connectionID, reason)
        }
        if !unsent.isEmpty, case .active = machine.state {
            // Refused streams go back to the pool at once; another connection (or this one) takes them.
            let refused = unsent
            unsent.removeAll(keepingCapacity: true)
            delegate?.connectionReturned(connectionID, unsent: refused)
        }
    }

    // MARK: Writing

    private func fillAndFlush(context: ChannelHandlerContext) {
        // Not while a refill is under way: a write that fails makes NIO read what is left on the socket at once,
        // from inside that write, and the refill that read would start must not add to `batch` while `submit`
        // still works through it (its exchanges would be sent twice). The connection is failing then anyway.
        var moreQueued = false
        if !isFilling, let session, let delegate {
            let free = min(machine.freeStreams(openStreams: session.openStreams.count), streamsTheWindowTakes(session))
            if free > 0 {
                isFilling = true
                defer { isFilling = false }
                moreQueued = delegate.dequeue(for: connectionID, max: free, into: &batch)
                if !batch.isEmpty {
                    submit(batch, session: session, context: context)
                    batch.removeAll(keepingCapacity: true)
                }
            }
        }
        flush(context: context)
        closeIfDrained(context: context)
        if moreQueued && !refillScheduled {
            // The pool kept the rest of a burst for the other connections: come back for what they leave once
            // this loop has read what arrived meanwhile.
            refillScheduled = true
            context.eventLoop.assumeIsolated().execute { [self] in
                refillScheduled = false
                wake()
            }
        }
    }

    /// How many more streams the server's connection-level flow-control window takes the bodies of, judged by
    /// the sizes of recent bodies.
    ///
    /// A stream opened while the window is spent sits on the server until a WINDOW_UPDATE comes, and under a
    /// small window nghttp2 may send the DATA of newer streams first, so such a stream can wait far longer than
    /// the rest. Opening streams only as their bodies can follow keeps delivery in queue order and the
    /// latency tail short. A connection with no open stream always opens one, so it cannot stall.
    private func streamsTheWindowTakes(_ session: NGHTTP2Session) -> Int {
        let room = session.remoteWindowSize - session.unsentBodyBytes
        if room <= 0 { return session.openStreams.isEmpty ? 1 : 0 }
        return room / max(averageBodyBytes, 1) + 1
    }

    private func submit(_ exchanges: [any HTTP2Exchange], session: NGHTTP2Session, context: ChannelHandlerContext) {
        // Read once per write chunk (about 16 KiB), not per request: it dates the chunk's requests.
        var now = NIODeadline.now()
        var refused: [any HTTP2Exchange] = []
        var leftOver: [any HTTP2Exchange] = []
        for exchange in exchanges {
            if exchange.deadline <= now {
                exchange.complete(.failure(.deadlineExceeded))
                continue
            }
            if !refused.isEmpty {
                refused.append(exchange)
                continue
            }
            guard case .active = machine.state else {
                // A write on the way ended the connection or began its drain: the rest goes back to the pool.
                leftOver.append(exchange)
                continue
            }
            headerWriter.reset()
            exchange.writeHeaders(into: &headerWriter)
            do {
                let stream = try session.submit(exchange, headers: headerWriter)
                stream.sentAt = now
                let bodyBytes = stream.pendingBody.readableBytes
                unflushedEstimate += headerWriter.byteCount + bodyBytes + 32
                averageBodyBytes += (bodyBytes - averageBodyBytes) / 8
            } catch {
                // Stream ids are exhausted or the session is going away: this connection is done.
                refused.append(exchange)
            }
            if unflushedEstimate >= Self.writeChunkBytes {
                // Write what is queued now: the server starts on it while the rest of the batch is encoded.
                flush(context: context)
                now = .now()
            }
        }
        gauges.inFlight.store(session.openStreams.count, ordering: .relaxed)
        if !leftOver.isEmpty {
            delegate?.connectionReturned(connectionID, unsent: leftOver)
        }
        if !refused.isEmpty {
            if case .announceGoingAway(let reason) = machine.streamsExhausted() {
                session.terminate()
                delegate?.connectionGoingAway(connectionID, reason)
            }
            delegate?.connectionReturned(connectionID, unsent: refused)
        }
    }

    private func flush(context: ChannelHandlerContext) {
        unflushedEstimate = 0
        guard let session else { return }
        do {
            try session.send(into: &plaintextOut)
        } catch {
            close(context: context, reason: .protocolError("\(error)"))
            return
        }
        if plaintextOut.readableBytes > 0 {
            do {
                try plaintextOut.withUnsafeReadableBytes { try tls.writePlaintext($0) }
            } catch {
                close(context: context, reason: .tls(error as? TLSError ?? .handshakeFailed("\(error)")))
                return
            }
            plaintextOut.clear()
        }
        writeCiphertext(context: context)
        // Answers not yet handed over (a read's, when its refill came first) and streams that closed while frames
        // went out (a reset for a passed deadline): after the write, so that the server already has it.
        if !session.completedStreams.isEmpty {
            handleSessionEvents(context: context)
        }
    }

    private func writeCiphertext(context: ChannelHandlerContext) {
        let pending = tls.pendingCiphertext
        guard pending > 0, context.channel.isActive else { return }
        var out = context.channel.allocator.buffer(capacity: pending)
        tls.drainCiphertext(into: &out)
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
    }

    // MARK: Timers

    private func onTick() {
        guard let context else { return }
        let now = NIODeadline.now()
        var expired = false
        if let session {
            for stream in session.openStreams.values where stream.exchange.deadline <= now && !stream.deadlinePassed {
                stream.deadlinePassed = true
                session.reset(streamID: stream.streamID)
                expired = true
            }
        }
        switch machine.tick(now: now, openStreams: session?.openStreams.count ?? 0) {
        case .sendPing:
            try? session?.ping()
            expired = true
        case .close(let reason):
            finishClose(context: context, reason: reason)
            return
        default:
            break
        }
        if session != nil, expired || machine.freeStreams(openStreams: session?.openStreams.count ?? 0) > 0 {
            fillAndFlush(context: context)
        }
    }

    // MARK: Closing

    private func closeIfDrained(context: ChannelHandlerContext) {
        guard let session, case .close(let reason) = machine.streamsChanged(openStreams: session.openStreams.count) else { return }
        // A graceful end: the final frames (our GOAWAY) go out before the socket closes.
        flush(context: context)
        finishClose(context: context, reason: reason)
    }

    /// Closes for `reason` unless the connection is already closed (the first reason wins).
    private func close(context: ChannelHandlerContext, reason: HTTP2ConnectionEnd) {
        guard case .close(let final) = machine.failed(reason) else { return }
        finishClose(context: context, reason: final)
    }

    /// Carries out a close the state machine decided: answers or returns every stream, tells the pool, closes.
    private func finishClose(context: ChannelHandlerContext, reason: HTTP2ConnectionEnd) {
        guard self.context != nil else { return }
        tick?.cancel()
        tick = nil
        var lost: [HTTP2Stream] = []
        if let session {
            // Streams that completed in the last pass but were not yet handled.
            let now = NIODeadline.now()
            for stream in session.completedStreams {
                stream.exchange.complete(stream.deadlinePassed ? .failure(.deadlineExceeded) : stream.result(receivedAt: now))
            }
            session.completedStreams.removeAll()
            lost = session.removeAllStreams()
        }
        gauges.inFlight.store(0, ordering: .relaxed)
        var notSent = unsent
        unsent.removeAll()
        for stream in lost {
            if stream.deadlinePassed {
                stream.exchange.complete(.failure(.deadlineExceeded))
            } else if stream.headersSent {
                stream.exchange.complete(.failure(.connectionLost("\(reason)")))
            } else {
                notSent.append(stream.exchange)
            }
        }
        self.session = nil
        delegate?.connectionClosed(connectionID, reason, unsent: notSent)
        context.close(promise: nil)
        self.context = nil
    }
}
