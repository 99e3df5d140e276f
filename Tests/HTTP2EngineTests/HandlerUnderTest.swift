@testable import HTTP2Engine
import NIOCore
import NIOPosix

/// One engine connection handler on an event loop of its own, connected over TLS to `server`, with `outer` between
/// it and the socket and a ``QueueDelegate`` as its pool; ready once the server's settings arrived.
struct HandlerUnderTest {
    let group: MultiThreadedEventLoopGroup
    let loop: any EventLoop
    let channel: any Channel
    let delegate: QueueDelegate
    /// The stream limit the handler announced as ready.
    let streamLimit: Int

    static func connect(
        to server: ExternalServer, configuration: HTTP2ConnectionConfiguration = HTTP2ConnectionConfiguration(),
        outer: any ChannelHandler & Sendable
    ) async throws -> HandlerUnderTest {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let tlsContext = try TLSContext(configuration: TLSConfiguration(trust: .caFile(Repository.path("certs/test-ca.pem"))))
        let delegate = QueueDelegate(ready: loop.makePromise())
        let channel = try await ClientBootstrap(group: loop)
            .channelInitializer { channel in
                do {
                    let handler = HTTP2ClientHandler(
                        connectionID: 1,
                        configuration: configuration,
                        tls: try TLSConnection(context: tlsContext, serverName: "localhost"),
                        delegate: delegate
                    )
                    try channel.pipeline.syncOperations.addHandlers([outer, handler])
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
            .connect(host: "127.0.0.1", port: server.port)
            .get()
        let streamLimit = try await delegate.ready.futureResult.get()
        return HandlerUnderTest(group: group, loop: loop, channel: channel, delegate: delegate, streamLimit: streamLimit)
    }

    func close() async throws {
        try await channel.close()
        try await group.shutdownGracefully()
    }
}

extension Countdown {
    /// Waits for zero at most `seconds`; whether it got there.
    func wait(seconds: Int) async -> Bool {
        await withTaskGroup(of: Bool.self) { tasks in
            tasks.addTask { await self.wait(); return true }
            tasks.addTask { try? await Task.sleep(for: .seconds(seconds)); return false }
            let first = await tasks.next()!
            tasks.cancelAll()
            return first
        }
    }
}

/// The pool's side of one connection, reduced to a queue.
final class QueueDelegate: HTTP2ConnectionDelegate, @unchecked Sendable {
    let ready: EventLoopPromise<Int>
    /// Touched on the connection's event loop only.
    var queue: [any HTTP2Exchange] = []
    /// When set, each dequeue gives at most this many, as the pool does when it shares a burst between
    /// connections, and says that more are left.
    var share: Int?
    /// Succeeded when a dequeue empties the queue.
    var emptied: EventLoopPromise<Void>?

    init(ready: EventLoopPromise<Int>) {
        self.ready = ready
    }

    func connectionReady(_ connectionID: Int, maxStreams: Int) {
        ready.succeed(maxStreams)
    }

    func dequeue(for connectionID: Int, max: Int, into batch: inout [any HTTP2Exchange]) -> Bool {
        let taken = min(max, share ?? max, queue.count)
        batch.append(contentsOf: queue.prefix(taken))
        queue.removeFirst(taken)
        if taken > 0 && queue.isEmpty { emptied?.succeed() }
        return taken < max && !queue.isEmpty
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
