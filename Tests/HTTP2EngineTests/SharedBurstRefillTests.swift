@testable import HTTP2Engine
import NIOCore
import NIOPosix
import XCTest

/// The pool gives each connection its share of a burst and keeps the rest for the others. A connection that was
/// given less than it had room for comes back for the rest by itself: nothing else may call it (the enqueues
/// that woke it can be over and the other connections busy), and otherwise what was left waited for the next
/// answer to arrive, and then again for half of what was still left.
final class SharedBurstRefillTests: XCTestCase {
    func testAConnectionComesBackForWhatTheSharingLeftWithoutAnAnswerArriving() async throws {
        let server = try ExternalServer.nghttpd()
        defer { server.stop() }
        let gate = ReadGate()
        // The connection's periodic tick (deadlines, pings) refills too; a long one keeps it out of this test.
        let connection = try await HandlerUnderTest.connect(
            to: server, configuration: HTTP2ConnectionConfiguration(tickInterval: .seconds(60)), outer: gate)
        let (loop, channel, delegate, streamLimit) = (connection.loop, connection.channel, connection.delegate, connection.streamLimit)
        let count = 60
        XCTAssertGreaterThanOrEqual(streamLimit, count)

        let countdown = Countdown(count)
        let exchanges = (0..<count).map { i in
            TestExchange(path: "/3/device/\(i)", authority: "localhost", body: "{\"n\":\(i)}", onComplete: countdown.tick)
        }
        let emptied = loop.makePromise(of: Void.self)
        try await loop.submit {
            // No answer reaches the handler until the queue is empty: only the handler itself can take the rest.
            gate.holding = true
            delegate.share = 5
            delegate.emptied = emptied
            delegate.queue = exchanges
            try channel.pipeline.syncOperations.handler(type: HTTP2ClientHandler.self).wake()
        }.get()

        let timeout = loop.scheduleTask(in: .seconds(10)) { emptied.fail(QueueNotEmptied()) }
        let tookEverything = (try? await emptied.futureResult.get()) != nil
        timeout.cancel()
        let left = try await loop.submit { delegate.queue.count }.get()
        XCTAssertTrue(tookEverything, "the handler took every share without an answer arriving (\(left) of \(count) left)")

        try await loop.submit { gate.release() }.get()
        let finished = await countdown.wait(seconds: 30)
        XCTAssertTrue(finished, "every exchange completed within 30 s")
        for exchange in exchanges {
            XCTAssertEqual(exchange.completions, 1)
        }
        try await connection.close()
    }
}

/// The queue was not emptied within the test's deadline.
private struct QueueNotEmptied: Error {}

/// On the socket side of the engine's handler: while holding, keeps what the server sends from the handler;
/// `release` hands it over.
private final class ReadGate: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    /// Touched on the channel's event loop only.
    var holding = false
    private var held: [NIOAny] = []
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if holding {
            held.append(data)
        } else {
            context.fireChannelRead(data)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if !holding { context.fireChannelReadComplete() }
    }

    func release() {
        holding = false
        guard let context else { return }
        let data = held
        held.removeAll()
        for item in data { context.fireChannelRead(item) }
        context.fireChannelReadComplete()
    }
}
