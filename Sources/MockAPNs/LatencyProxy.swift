import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A TCP proxy that holds every byte for half a round trip in each direction, so that a client and a server on
/// one machine talk across an emulated network round trip (`roundTrip`), as to APNs across the Internet.
///
/// Bytes are forwarded as they came (TLS passes through untouched), in order, each chunk `roundTrip / 2` after
/// it was read; there is no bandwidth limit and no loss. Because the delay is on the bytes, everything that
/// depends on the round trip sees it: request → response, but also SETTINGS acknowledgements and the
/// WINDOW_UPDATE frames that HTTP/2 flow control waits for. Each side holds at most ``maxHeldBytes`` bytes in
/// transit; past it, the proxy stops reading that side until the bytes have gone out.
///
/// ```swift
/// let proxy = try await LatencyProxy.start(upstreamHost: "127.0.0.1", upstreamPort: 8443, roundTrip: .milliseconds(20))
/// // connect to 127.0.0.1:\(proxy.port) instead of 8443
/// try await proxy.shutdown()
/// ```
public final class LatencyProxy: Sendable {
    /// The most bytes held in transit per direction of a connection before the proxy stops reading that side.
    public static let maxHeldBytes = 64 * 1024 * 1024

    private let channel: any Channel
    private let group: any EventLoopGroup
    private let ownsGroup: Bool
    /// The port the proxy listens on.
    public let port: Int
    public let roundTrip: TimeAmount

    private init(channel: any Channel, group: any EventLoopGroup, ownsGroup: Bool, roundTrip: TimeAmount) {
        self.channel = channel
        self.group = group
        self.ownsGroup = ownsGroup
        self.roundTrip = roundTrip
        self.port = channel.localAddress?.port ?? 0
    }

    /// Listens on `host:port` (0: a free port) and forwards each connection to `upstreamHost:upstreamPort`.
    /// `group`: by default the proxy makes its own event loops (`threads`, default 1) and shuts them down in
    /// ``shutdown()``.
    public static func start(
        host: String = "127.0.0.1", port: Int = 0, upstreamHost: String, upstreamPort: Int, roundTrip: TimeAmount,
        group: (any EventLoopGroup)? = nil, threads: Int = 1
    ) async throws -> LatencyProxy {
        precondition(roundTrip >= .zero)
        let ownsGroup = group == nil
        let group = group ?? MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let oneWay = TimeAmount.nanoseconds(roundTrip.nanoseconds / 2)
        do {
            let channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelOption(.autoRead, value: false)  // until the upstream connection is up
                .childChannelInitializer { downstream in
                    ClientBootstrap(group: downstream.eventLoop)
                        .channelOption(.socketOption(.tcp_nodelay), value: 1)
                        .channelOption(.autoRead, value: false)
                        .connect(host: upstreamHost, port: upstreamPort)
                        .flatMap { upstream in
                            let toUpstream = DelayedForwarder(delay: oneWay, peer: upstream)
                            let toDownstream = DelayedForwarder(delay: oneWay, peer: downstream)
                            do {
                                try downstream.pipeline.syncOperations.addHandler(toUpstream)
                                try upstream.pipeline.syncOperations.addHandler(toDownstream)
                            } catch {
                                upstream.close(promise: nil)
                                return downstream.eventLoop.makeFailedFuture(error)
                            }
                            upstream.setOption(.autoRead, value: true).whenComplete { _ in }
                            return downstream.setOption(.autoRead, value: true)
                        }
                }
                .bind(host: host, port: port)
                .get()
            return LatencyProxy(channel: channel, group: group, ownsGroup: ownsGroup, roundTrip: roundTrip)
        } catch {
            if ownsGroup { try? await group.shutdownGracefully() }
            throw error
        }
    }

    /// Completes when the listening socket closes (``shutdown()``).
    public var closeFuture: EventLoopFuture<Void> { channel.closeFuture }

    /// Stops listening (connections already made close with the event loops, if the proxy owns them).
    public func shutdown() async throws {
        try await channel.close()
        if ownsGroup { try await group.shutdownGracefully() }
    }
}

/// Reads one side of a proxied connection and writes what it read to the other side (`peer`, on the same event
/// loop) `delay` later, in order.
final class DelayedForwarder: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let delay: TimeAmount
    private let peer: any Channel
    private var held = CircularBuffer<(due: NIODeadline, bytes: ByteBuffer)>()
    private var heldBytes = 0
    private var timer: Scheduled<Void>?
    private var readingPaused = false
    private var sourceClosed = false
    private var context: ChannelHandlerContext?

    init(delay: TimeAmount, peer: any Channel) {
        self.delay = delay
        self.peer = peer
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        if delay <= .zero && held.isEmpty {
            peer.writeAndFlush(bytes, promise: nil)
            return
        }
        held.append((NIODeadline.now() + delay, bytes))
        heldBytes += bytes.readableBytes
        if heldBytes > LatencyProxy.maxHeldBytes && !readingPaused {
            readingPaused = true
            context.channel.setOption(.autoRead, value: false).whenComplete { _ in }
        }
        if timer == nil { schedule(context.eventLoop) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        sourceClosed = true
        if held.isEmpty { peer.close(promise: nil) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func schedule(_ eventLoop: any EventLoop) {
        guard let first = held.first else { return }
        timer = eventLoop.assumeIsolated().scheduleTask(deadline: first.due) { [self] in
            timer = nil
            release()
        }
    }

    /// Writes every chunk that is due, then waits for the next.
    private func release() {
        let now = NIODeadline.now()
        var wrote = false
        while let first = held.first, first.due <= now {
            held.removeFirst()
            heldBytes -= first.bytes.readableBytes
            peer.write(first.bytes, promise: nil)
            wrote = true
        }
        if wrote { peer.flush() }
        if readingPaused && heldBytes <= LatencyProxy.maxHeldBytes / 2, let context {
            readingPaused = false
            context.channel.setOption(.autoRead, value: true).whenComplete { _ in }
        }
        if held.isEmpty {
            if sourceClosed { peer.close(promise: nil) }
        } else if let context {
            schedule(context.eventLoop)
        }
    }
}
