import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import XCTest

@testable import MockAPNs

/// The latency proxy holds bytes for half the round trip each way: an echo through it takes at least the round
/// trip, and bytes arrive whole and in order.
final class LatencyProxyTests: XCTestCase {
    private var group: MultiThreadedEventLoopGroup!

    override func setUp() async throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
    }

    override func tearDown() async throws {
        try await group.shutdownGracefully()
    }

    func testAnEchoThroughTheProxyTakesAtLeastTheRoundTrip() async throws {
        let echo = try await startEchoServer()
        let roundTrip = TimeAmount.milliseconds(80)
        let proxy = try await LatencyProxy.start(upstreamHost: "127.0.0.1", upstreamPort: echo.localAddress!.port!, roundTrip: roundTrip)

        // Direct, the echo is far quicker than the round trip (a reference for the machine's own delay).
        let direct = try await timeEcho(port: echo.localAddress!.port!, chunks: ["ping"])
        XCTAssertEqual(direct.bytes, "ping")

        let proxied = try await timeEcho(port: proxy.port, chunks: ["one,", "two,", "three"])
        XCTAssertEqual(proxied.bytes, "one,two,three", "whole and in order")
        XCTAssertGreaterThanOrEqual(proxied.elapsed, roundTrip, "held half the round trip each way")
        XCTAssertLessThan(proxied.elapsed, roundTrip + .seconds(5))

        try await proxy.shutdown()
        try await echo.close()
    }

    func testAZeroRoundTripForwardsAtOnce() async throws {
        let echo = try await startEchoServer()
        let proxy = try await LatencyProxy.start(upstreamHost: "127.0.0.1", upstreamPort: echo.localAddress!.port!, roundTrip: .zero)
        let result = try await timeEcho(port: proxy.port, chunks: ["a", "b"])
        XCTAssertEqual(result.bytes, "ab")
        try await proxy.shutdown()
        try await echo.close()
    }

    private func startEchoServer() async throws -> any Channel {
        try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(EchoHandler()) }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
    }

    /// Connects to `port`, writes `chunks` (each flushed) and waits for all of their bytes back; the time from
    /// the first write to the last byte back.
    private func timeEcho(port: Int, chunks: [String]) async throws -> (bytes: String, elapsed: TimeAmount) {
        let expected = chunks.joined().utf8.count
        let received = group.next().makePromise(of: String.self)
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(CollectHandler(expected: expected, done: received))
                }
            }
            .connect(host: "127.0.0.1", port: port)
            .get()
        let start = NIODeadline.now()
        for chunk in chunks {
            try await channel.writeAndFlush(channel.allocator.buffer(string: chunk))
        }
        let timeout = channel.eventLoop.scheduleTask(in: .seconds(10)) { received.fail(ChannelError.connectTimeout(.seconds(10))) }
        let bytes = try await received.futureResult.get()
        let elapsed = NIODeadline.now() - start
        timeout.cancel()
        try await channel.close()
        return (bytes, elapsed)
    }
}

private final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.writeAndFlush(data, promise: nil)
    }
}

private final class CollectHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let expected: Int
    private let done: EventLoopPromise<String>
    private var bytes = ""

    init(expected: Int, done: EventLoopPromise<String>) {
        self.expected = expected
        self.done = done
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        bytes += buffer.readString(length: buffer.readableBytes) ?? ""
        if bytes.utf8.count >= expected { done.succeed(bytes) }
    }
}
