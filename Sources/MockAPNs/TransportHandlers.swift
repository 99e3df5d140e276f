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
