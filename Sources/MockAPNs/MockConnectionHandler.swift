import NIOCore
import NIOHPACK
import NIOHTTP2

/// A command for every connection of a server, sent down its pipeline as a user event.
enum MockConnectionCommand {
    /// Send GOAWAY now (``MockAPNsServer/goAwayEverywhere()``).
    case goAway
}

/// One mock APNs connection at the HTTP/2 frame level: it gathers each stream's HEADERS and DATA,
/// and at the end of every read batch validates the completed requests and answers them
/// (MockConnectionHandler+Batch.swift), applying the scripted faults.
///
/// It works on ``HTTP2Frame``s directly, without a stream multiplexer and its per-stream channels,
/// so it also does the receive-side flow control itself.
///
/// Maintainer's note: not `Sendable`. Everything here runs on the connection's event loop; the only
/// shared state is ``MockServerContext/state``, taken twice per read batch.
final class MockConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    /// A stream whose request is still arriving.
    struct PartialRequest {
        var headers: HPACKHeaders
        var body: ByteBuffer?
        var bodyLength = 0
    }

    /// A request whose END_STREAM arrived, waiting for the end of the read batch.
    struct CompletedRequest {
        var streamID: HTTP2StreamID
        var headers: HPACKHeaders
        var body: ByteBuffer?
        var bodyLength: Int
    }

    let server: MockServerContext
    let gate: TransportGateHandler
    let transport: TransportAbortHandler
    let connectionID: Int

    var partial: [HTTP2StreamID: PartialRequest] = [:]
    var completed: [CompletedRequest] = []
    /// Streams from their first HEADERS until NIOHTTP2 reports them closed.
    var openStreams: Set<HTTP2StreamID> = []
    var report = BatchReport()
    var idGenerator = APNsIDGenerator()
    var tokens = ConnectionTokenCache()

    /// MAX_CONCURRENT_STREAMS values sent and not yet acknowledged, oldest first.
    var pendingStreamLimits: [Int]
    /// The limit the client has acknowledged; `nil` before its first SETTINGS ACK.
    var acknowledgedStreamLimit: Int?
    var raisedStreamLimit = false

    var requestsReceived = 0
    var requestsAnswered = 0
    /// Set once this side sent GOAWAY: streams above it are not processed.
    var goawayLastStreamID: HTTP2StreamID?
    var peerSentGoaway = false
    var isStalled = false
    var isClosing = false
    var sawFirstFrame = false
    var needsFlush = false
    /// Set while ``perform(_:context:)`` writes a batch's frames.
    var isWriting = false
    /// The highest stream answered, reset or dropped by a fault so far: the last-stream-id of a GOAWAY
    /// sent on command.
    var lastDecidedStreamID: HTTP2StreamID?
    /// The time written on the current batch's record-file lines.
    var batchMilliseconds: Int64 = 0

    init(
        server: MockServerContext,
        gate: TransportGateHandler,
        transport: TransportAbortHandler,
        connectionID: Int
    ) {
        self.server = server
        self.gate = gate
        self.transport = transport
        self.connectionID = connectionID
        self.pendingStreamLimits = [server.initialMaxConcurrentStreams]
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = self.unwrapInboundIn(data)
        if !self.sawFirstFrame {
            // The client's preface is in: open the connection window wide, the mock reads everything at once.
            self.sawFirstFrame = true
            let increment = MockServerContext.connectionWindow - MockServerContext.streamWindow
            self.write(context, HTTP2Frame(streamID: .rootStream, payload: .windowUpdate(windowSizeIncrement: increment)))
        }
        switch frame.payload {
        case .headers(let headers):
            self.receivedHeaders(headers, streamID: frame.streamID)
        case .data(let data):
            self.receivedData(data, streamID: frame.streamID)
        case .settings(.ack):
            if !self.pendingStreamLimits.isEmpty {
                self.acknowledgedStreamLimit = self.pendingStreamLimits.removeFirst()
            }
        case .goAway:
            self.peerSentGoaway = true
        case .rstStream:
            self.partial.removeValue(forKey: frame.streamID)
        default:
            break
        }
    }

    private func receivedHeaders(_ headers: HTTP2Frame.FramePayload.Headers, streamID: HTTP2StreamID) {
        if var request = self.partial[streamID] {
            // Trailers end the request; their content is not part of the APNs API.
            if headers.endStream {
                self.partial.removeValue(forKey: streamID)
                self.complete(streamID: streamID, request: request)
            } else {
                request.headers.add(contentsOf: headers.headers)
                self.partial[streamID] = request
            }
            return
        }
        guard !self.openStreams.contains(streamID) else { return }
        if let limit = self.acknowledgedStreamLimit, self.openStreams.count >= limit {
            self.report.countViolation()
        }
        self.openStreams.insert(streamID)
        self.report.observeConcurrentStreams(self.openStreams.count)
        let request = PartialRequest(headers: headers.headers)
        if headers.endStream {
            self.complete(streamID: streamID, request: request)
        } else {
            self.partial[streamID] = request
        }
    }

    private func receivedData(_ data: HTTP2Frame.FramePayload.Data, streamID: HTTP2StreamID) {
        guard var request = self.partial.removeValue(forKey: streamID) else { return }
        if case .byteBuffer(var buffer) = data.data, buffer.readableBytes > 0 {
            request.bodyLength += buffer.readableBytes
            let room = MockServerContext.bodyCap - (request.body?.readableBytes ?? 0)
            if room > 0 {
                if request.body == nil, buffer.readableBytes <= room {
                    request.body = buffer
                } else if var body = request.body {
                    request.body = nil  // keep the buffer uniquely referenced while appending
                    if var slice = buffer.readSlice(length: min(room, buffer.readableBytes)) {
                        body.writeBuffer(&slice)
                    }
                    request.body = body
                } else {
                    request.body = buffer.readSlice(length: room)
                }
            }
        }
        if data.endStream {
            self.complete(streamID: streamID, request: request)
        } else {
            self.partial[streamID] = request
        }
    }

    private func complete(streamID: HTTP2StreamID, request: PartialRequest) {
        self.completed.append(
            CompletedRequest(
                streamID: streamID,
                headers: request.headers,
                body: request.body,
                bodyLength: request.bodyLength
            )
        )
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.processCompleted(context: context)
        // Streams opened without completing yet may have raised the concurrency maximum (or broken
        // the limit): publish that too. A no-op, without the lock, when nothing changed.
        self.commitReport()
        self.flushIfNeeded(context)
        self.closeIfDone(context: context)  // a GOAWAY from the client may have left nothing to do
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case let closed as StreamClosedEvent:
            self.openStreams.remove(closed.streamID)
            self.partial.removeValue(forKey: closed.streamID)
            self.closeIfDone(context: context)
        case let window as NIOHTTP2WindowUpdatedEvent:
            self.replenishWindow(window, context: context)
        case MockConnectionCommand.goAway:
            self.goAwayNow(context: context)
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    /// Grants more receive window when half of it is used, like NIOHTTP2's own stream channels do.
    private func replenishWindow(_ event: NIOHTTP2WindowUpdatedEvent, context: ChannelHandlerContext) {
        guard !self.isStalled, let inbound = event.inboundWindowSize else { return }
        let target: Int
        if event.streamID == .rootStream {
            target = MockServerContext.connectionWindow
        } else {
            guard self.partial[event.streamID] != nil else { return }
            target = MockServerContext.streamWindow
        }
        if inbound <= target / 2 {
            self.write(
                context,
                HTTP2Frame(streamID: event.streamID, payload: .windowUpdate(windowSizeIncrement: target - inbound))
            )
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is NIOHTTP2Errors.MaxStreamsViolation {
            // NIOHTTP2 refused a stream over the acknowledged limit by itself (and ends the connection).
            self.report.countViolation()
            self.commitReport()
        }
        if error is NIOHTTP2Errors.StreamError {
            return  // one stream failed (for example a write to a stream the client reset)
        }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.isClosing = true
        self.partial.removeAll()
        self.completed.removeAll()
        self.commitReport()
        context.fireChannelInactive()
    }

    // MARK: - Writing

    func write(_ context: ChannelHandlerContext, _ frame: HTTP2Frame) {
        context.write(self.wrapOutboundOut(frame), promise: nil)
        self.needsFlush = true
    }

    func flushIfNeeded(_ context: ChannelHandlerContext) {
        if self.needsFlush {
            self.needsFlush = false
            context.flush()
        }
    }

    /// Closes gracefully once a GOAWAY (ours or the client's) left no stream to finish.
    func closeIfDone(context: ChannelHandlerContext) {
        guard !self.isClosing, !self.isStalled, !self.isWriting else { return }
        let done: Bool
        if let last = self.goawayLastStreamID {
            done = !self.openStreams.contains(where: { $0 <= last })
        } else if self.peerSentGoaway {
            done = self.openStreams.isEmpty
        } else {
            done = false
        }
        if done {
            self.isClosing = true
            self.flushIfNeeded(context)
            context.close(promise: nil)
        }
    }
}
