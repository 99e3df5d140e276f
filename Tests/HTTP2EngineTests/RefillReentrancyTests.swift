@testable import HTTP2Engine
import NIOCore
import NIOPosix
import XCTest

/// A refill of the connection must not start another refill from inside its own writes. NIO delivers reads
/// from inside a write when the write fails (it reads what is left on the socket at once); a refill started
/// there once appended to the batch the outer refill was still submitting, and those exchanges went out
/// twice. Here every flush during the refill delivers a read-complete event into the handler first, so the
/// nested call happens on every chunk, deterministically.
final class RefillReentrancyTests: XCTestCase {
    func testAReadDuringARefillsWriteDoesNotSubmitTheBatchTwice() async throws {
        let server = try ExternalServer.nghttpd()
        defer { server.stop() }
        let injector = ReadDuringFlush()
        let connection = try await HandlerUnderTest.connect(to: server, outer: injector)
        let (loop, channel, delegate, streamLimit) = (connection.loop, connection.channel, connection.delegate, connection.streamLimit)

        // Several write chunks (16 KiB each) per refill: bodies of 1 KiB, as many as the stream limit takes.
        let count = 2_000
        let countdown = Countdown(count)
        let padding = String(repeating: "x", count: 1000)
        let exchanges = (0..<count).map { i in
            TestExchange(path: "/3/device/\(i)", authority: "localhost", body: "{\"n\":\(i),\"p\":\"\(padding)\"}", onComplete: countdown.tick)
        }
        try await loop.submit {
            delegate.queue = exchanges
            injector.armed = true
            try channel.pipeline.syncOperations.handler(type: HTTP2ClientHandler.self).wake()
        }.get()

        let finished = await countdown.wait(seconds: 60)
        XCTAssertTrue(finished, "every exchange completed within 60 s")
        let reentries = try await loop.submit { injector.reentries }.get()
        XCTAssertGreaterThan(reentries, 0, "reads were delivered from inside the refills' writes (stream limit \(streamLimit))")
        for (i, exchange) in exchanges.enumerated() {
            XCTAssertEqual(exchange.completions, 1, "exchange \(i) completed \(exchange.completions) times")
            guard case .success(let response) = exchange.result else {
                XCTFail("exchange \(i): \(String(describing: exchange.result))")
                continue
            }
            XCTAssertEqual(response.status, 200)
        }
        try await connection.close()
    }
}

/// On the socket side of the engine's handler: while armed, each flush first delivers a read-complete
/// event to the handler, as a failing write does.
private final class ReadDuringFlush: ChannelDuplexHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    /// Touched on the channel's event loop only.
    var armed = false
    var reentries = 0

    func flush(context: ChannelHandlerContext) {
        if armed {
            reentries += 1
            context.fireChannelReadComplete()
        }
        context.flush()
    }
}
