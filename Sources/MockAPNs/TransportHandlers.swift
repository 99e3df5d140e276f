import NIOCore
import NIOTLS

/// Sits at the head of a connection's pipeline so that the mock can drop the TCP connection
/// abruptly, without a TLS close_notify or an HTTP/2 GOAWAY (``MockFaults/closeAfterStreams``).
///
/// Not `Sendable`: used on the connection's event loop only.
final class TransportAbortHandler: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        context.write(data, promise: promise)
    }

    /// Closes the socket from below the TLS layer.
    func abort() {
        self.context?.close(promise: nil)
    }
}

/// Sits between TLS and HTTP/2. It refuses connections that did not negotiate `h2` by ALPN, and
/// when asked to ``stall()`` it swallows every byte that arrives, so that nothing, not even PING,
/// gets an answer while the TCP connection stays open.
///
/// Not `Sendable`: used on the connection's event loop only.
final class TransportGateHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private var closed = false
    private(set) var isStalled = false

    func stall() {
        self.isStalled = true
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.isStalled, !self.closed else { return }
        context.fireChannelRead(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        guard !self.isStalled, !self.closed else { return }
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tlsEvent = event as? TLSUserEvent, case .handshakeCompleted(let negotiated) = tlsEvent,
            negotiated != "h2"
        {
            // APNs speaks HTTP/2 only: a client that didn't offer h2 gets nothing.
            self.closed = true
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}

/// Sits between HTTP/2 and TLS and gathers the frames written before a flush into one buffer, so
/// that TLS makes one record per flush instead of one per frame (NIOSSL encrypts each write on its
/// own). A long burst without a flush is passed on every ``limit`` bytes.
///
/// Not `Sendable`: used on the connection's event loop only.
final class WriteCoalescingHandler: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Just under four maximum-size TLS records.
    static let limit = 64 * 1024 - 512

    private var pending: ByteBuffer?
    private var promise: EventLoopPromise<Void>?

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var buffer = self.unwrapOutboundIn(data)
        if var pending = self.pending {
            self.pending = nil  // keep the storage uniquely referenced while appending
            pending.writeBuffer(&buffer)
            self.pending = pending
        } else {
            var owned = context.channel.allocator.buffer(capacity: max(4096, buffer.readableBytes))
            owned.writeBuffer(&buffer)
            self.pending = owned
        }
        if let promise {
            if let existing = self.promise {
                existing.futureResult.cascade(to: promise)
            } else {
                self.promise = promise
            }
        }
        if let pending = self.pending, pending.readableBytes >= Self.limit {
            self.emit(context: context)
        }
    }

    func flush(context: ChannelHandlerContext) {
        self.emit(context: context)
        context.flush()
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        self.emit(context: context)
        context.flush()
        context.close(mode: mode, promise: promise)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.pending = nil
        self.promise?.fail(ChannelError.ioOnClosedChannel)
        self.promise = nil
    }

    private func emit(context: ChannelHandlerContext) {
        guard let buffer = self.pending else { return }
        let promise = self.promise
        self.pending = nil
        self.promise = nil
        context.write(self.wrapOutboundOut(buffer), promise: promise)
    }
}
