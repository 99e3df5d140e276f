@testable import HTTP2Engine
import NIOCore
import NIOPosix
import XCTest

/// When a read frees stream slots and work is queued, the requests that take those slots are written before the
/// read's answers are handed over to their exchanges: the server works on the new requests while the answers
/// are processed (under a connection-level window, a refill that waits for that work leaves the server idle).
final class RefillBeforeAnswersTests: XCTestCase {
    func testTheRefillOfAReadIsWrittenBeforeItsAnswersAreHandedOver() async throws {
        let server = try ExternalServer.nghttpd()
        defer { server.stop() }
        let probe = WritesPerRead()
        // Four streams: every answer frees a quarter of them, so each read with answers refills.
        let connection = try await HandlerUnderTest.connect(
            to: server, configuration: HTTP2ConnectionConfiguration(maxConcurrentStreams: 4), outer: probe)
        let (loop, channel, delegate, streamLimit) = (connection.loop, connection.channel, connection.delegate, connection.streamLimit)
        try await loop.submit { probe.delegate = delegate }.get()
        XCTAssertEqual(streamLimit, 4)

        let count = 60
        let countdown = Countdown(count)
        let exchanges = (0..<count).map { i in
            TestExchange(path: "/3/device/\(i)", authority: "localhost", body: "{\"n\":\(i)}") {
                probe.answerHandedOver()
                countdown.tick()
            }
        }
        try await loop.submit {
            delegate.queue = exchanges
            try channel.pipeline.syncOperations.handler(type: HTTP2ClientHandler.self).wake()
        }.get()

        let finished = await countdown.wait(seconds: 30)
        XCTAssertTrue(finished, "every exchange completed within 30 s")
        let (before, after) = try await loop.submit { (probe.beforeRefill, probe.afterRefill) }.get()
        XCTAssertEqual(before, 0, "answers handed over before their read's refill was written")
        XCTAssertGreaterThan(after, 0, "answers of reads that found queued work")
        for exchange in exchanges {
            XCTAssertEqual(exchange.completions, 1)
        }
        try await connection.close()
    }
}

/// On the socket side of the engine's handler: counts writes, and for each answer handed over while the read
/// that carried it found work queued, whether a write went out during that read before it.
private final class WritesPerRead: ChannelDuplexHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    /// The pool whose queue says whether a read found work waiting; set before any read.
    var delegate: QueueDelegate?
    /// Touched on the channel's event loop only.
    private var writes = 0
    private var writesAtReadStart = 0
    private var queuedAtReadStart = false
    var beforeRefill = 0
    var afterRefill = 0

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        writesAtReadStart = writes
        queuedAtReadStart = !(delegate?.queue.isEmpty ?? true)
        context.fireChannelRead(data)
        queuedAtReadStart = false
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        writes += 1
        context.write(data, promise: promise)
    }

    /// Called by an exchange's completion, on the event loop.
    func answerHandedOver() {
        guard queuedAtReadStart else { return }
        if writes > writesAtReadStart { afterRefill += 1 } else { beforeRefill += 1 }
    }
}
