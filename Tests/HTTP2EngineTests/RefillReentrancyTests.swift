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
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let tlsContext = try TLSContext(configuration: TLSConfiguration(trust: .caFile(Repository.path("certs/test-ca.pem"))))
        let delegate = QueueDelegate(ready: loop.makePromise())
        let injector = ReadDuringFlush()
        let channel = try await ClientBootstrap(group: loop)
            .channelInitializer { channel in
                do {
                    let handler = HTTP2ClientHandler(
                        connectionID: 1,
                        configuration: HTTP2ConnectionConfiguration(),
                        tls: try TLSConnection(context: tlsContext, serverName: "localhost"),
                        delegate: delegate
                    )
                    try channel.pipeline.syncOperations.addHandlers([injector, handler])
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
            .connect(host: "127.0.0.1", port: server.port)
            .get()
        let streamLimit = try await delegate.ready.futureResult.get()

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

        let finished = await withTaskGroup(of: Bool.self) { tasks in
            tasks.addTask { await countdown.wait(); return true }
            tasks.addTask { try? await Task.sleep(for: .seconds(60)); return false }
            let first = await tasks.next()!
            tasks.cancelAll()
            return first
        }
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
        try await channel.close()
        try await group.shutdownGracefully()
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

/// The pool's side of one connection, reduced to a queue.
final class QueueDelegate: HTTP2ConnectionDelegate, @unchecked Sendable {
    let ready: EventLoopPromise<Int>
    /// Touched on the connection's event loop only.
    var queue: [any HTTP2Exchange] = []

    init(ready: EventLoopPromise<Int>) {
        self.ready = ready
    }

    func connectionReady(_ connectionID: Int, maxStreams: Int) {
        ready.succeed(maxStreams)
    }

    func dequeue(for connectionID: Int, max: Int, into batch: inout [any HTTP2Exchange]) {
        let taken = min(max, queue.count)
        batch.append(contentsOf: queue.prefix(taken))
        queue.removeFirst(taken)
    }

    func connectionGoingAway(_ connectionID: Int, _ reason: HTTP2ConnectionEnd) {}

    func connectionReturned(_ connectionID: Int, unsent: [any HTTP2Exchange]) {
        queue.insert(contentsOf: unsent, at: 0)
    }

    func connectionClosed(_ connectionID: Int, _ reason: HTTP2ConnectionEnd, unsent: [any HTTP2Exchange]) {
        ready.fail(HTTP2Error.shutdown)
        for exchange in unsent + queue {
            exchange.complete(.failure(.shutdown))
        }
        queue.removeAll()
    }
}
