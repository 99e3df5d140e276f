import APNs
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why the intake could not start.
public struct IntakeError: Error, CustomStringConvertible, Sendable {
    /// What went wrong, naming the socket path.
    public var description: String

    init(_ description: String) {
        self.description = description
    }
}

/// The intake: a Unix stream socket speaking the NDJSON protocol (see docs/protocol.md), feeding the
/// apps' ``APNsClient``s; with ``IntakeConfiguration/network`` also a TCP port speaking it over TLS to authenticated
/// clients (see ``IntakeAuthHandler``). Both share the connection limit, the counters and the shutdown.
///
/// Start it with ``start(configuration:apps:defaultApp:operations:group:logger:)``; stop it with
/// ``shutdown(grace:)``, which answers every accepted request before the socket goes away.
public final class IntakeServer: Sendable {
    private let channel: any Channel
    /// The network intake's listening channel, if configured.
    private let networkChannel: (any Channel)?
    let shared: IntakeContext
    private let connections: NIOLockedValueBox<[ObjectIdentifier: any Channel]>
    private let logger: Logger
    private let isShutDown = NIOLockedValueBox(false)

    /// The socket's path.
    public var socketPath: String { shared.configuration.socketPath }

    /// The network intake's bound address (its port when configured with port 0); nil without one.
    public var networkAddress: SocketAddress? { networkChannel?.localAddress }

    private init(
        channel: any Channel, networkChannel: (any Channel)?, shared: IntakeContext,
        connections: NIOLockedValueBox<[ObjectIdentifier: any Channel]>, logger: Logger
    ) {
        self.channel = channel
        self.networkChannel = networkChannel
        self.shared = shared
        self.connections = connections
        self.logger = logger
    }

    /// Binds the socket and starts accepting.
    ///
    /// Refuses to start when another process accepts connections on the path (a running gateway); replaces a
    /// stale socket file nobody listens on; refuses a path that exists and is not a socket.
    ///
    /// - Parameters:
    ///   - apps: the apps notifications can name in `"app"`.
    ///   - defaultApp: the app for notifications that name none; defaults to the only app when there is one.
    ///   - operations: handlers for ops beyond `send`, `ping` and `stats`, by op name; other ops are answered
    ///     with `UnknownOp`.
    public static func start(
        configuration: IntakeConfiguration,
        apps: [APNsApp],
        defaultApp: String? = nil,
        operations: [String: any IntakeOperation] = [:],
        group: any EventLoopGroup,
        logger: Logger = Logger(label: "apns.intake")
    ) async throws -> IntakeServer {
        for name in ["send", "ping", "stats"] where operations[name] != nil {
            throw IntakeError("op \"\(name)\" is built in and cannot be replaced by an extension operation")
        }
        guard configuration.maxOperationsPerConnection > 0 else {
            throw IntakeError("maxOperationsPerConnection must be at least 1")
        }
        try SocketPath.prepare(configuration.socketPath)
        let shared = IntakeContext(
            configuration: configuration, routes: APNsApps(apps, defaultApp: defaultApp), operations: operations)
        let connections = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 64 * 1024, high: 256 * 1024))
            .childChannelInitializer { child in
                accept(child, shared: shared, connections: connections) { pipeline, accepted in
                    if accepted {
                        try pipeline.addHandler(IntakeConnectionHandler(context: shared))
                    } else {
                        try pipeline.addHandler(RejectConnectionHandler(limit: configuration.maxConnections))
                    }
                }
            }
        let previousMask = umask(~mode_t(configuration.socketMode) & 0o777)
        let channel: any Channel
        do {
            channel = try await bootstrap.bind(unixDomainSocketPath: configuration.socketPath, cleanupExistingSocketFile: false).get()
            umask(previousMask)
        } catch {
            umask(previousMask)
            throw IntakeError("cannot listen on \(configuration.socketPath): \(error)")
        }
        if chmod(configuration.socketPath, mode_t(configuration.socketMode)) != 0 {
            try? await channel.close()
            throw IntakeError("cannot set mode \(String(configuration.socketMode, radix: 8)) on \(configuration.socketPath)")
        }
        if configuration.socketOwner != nil || configuration.socketGroup != nil {
            // -1 (all bits set) leaves that ID as it is.
            if chown(configuration.socketPath, configuration.socketOwner ?? UInt32.max, configuration.socketGroup ?? UInt32.max) != 0 {
                let reason = String(cString: strerror(errno))
                try? await channel.close()
                unlink(configuration.socketPath)
                throw IntakeError(
                    "cannot give \(configuration.socketPath) to user \(configuration.socketOwner.map(String.init) ?? "(unchanged)")"
                        + " and group \(configuration.socketGroup.map(String.init) ?? "(unchanged)"): \(reason)")
            }
        }
        logger.info(
            "intake listening",
            metadata: ["socket": "\(configuration.socketPath)", "mode": "\(String(configuration.socketMode, radix: 8))"])
        var networkChannel: (any Channel)?
        if let network = configuration.network {
            do {
                networkChannel = try await bindNetwork(network, shared: shared, connections: connections, group: group, logger: logger)
            } catch {
                try? await channel.close()
                unlink(configuration.socketPath)
                throw error
            }
        }
        return IntakeServer(channel: channel, networkChannel: networkChannel, shared: shared, connections: connections, logger: logger)
    }

    /// Counts a new connection and sets up its pipeline: `configure` gets `accepted` false when the connection is
    /// over ``IntakeConfiguration/maxConnections`` (it is then answered `TooManyConnections` and closed).
    static func accept(
        _ child: any Channel, shared: IntakeContext, connections: NIOLockedValueBox<[ObjectIdentifier: any Channel]>,
        configure: (ChannelPipeline.SynchronousOperations, _ accepted: Bool) throws -> Void
    ) -> EventLoopFuture<Void> {
        let open = shared.openConnections.wrappingAdd(1, ordering: .relaxed).newValue
        let key = ObjectIdentifier(child)
        child.closeFuture.whenComplete { _ in
            shared.openConnections.subtract(1, ordering: .relaxed)
            connections.withLockedValue { _ = $0.removeValue(forKey: key) }
        }
        let accepted = open <= shared.configuration.maxConnections
        if accepted {
            shared.acceptedConnections.add(1, ordering: .relaxed)
            connections.withLockedValue { $0[key] = child }
        } else {
            shared.rejectedConnections.add(1, ordering: .relaxed)
        }
        return child.eventLoop.makeCompletedFuture {
            try configure(child.pipeline.syncOperations, accepted)
        }
    }

    /// How many intake connections are open.
    public var connectionCount: Int { shared.openConnections.load(ordering: .relaxed) }

    /// Stops accepting, lets each connection finish (no new requests; every accepted notification is answered:
    /// in-flight ones get up to `grace`, then the clients answer the rest with `Shutdown`; running extension
    /// ops are waited for), shuts the clients down, writes the last replies, closes the connections and
    /// removes the socket file.
    public func shutdown(grace: TimeAmount = IntakeConfiguration.defaultShutdownGrace) async {
        let first = isShutDown.withLockedValue { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        logger.info("intake shutting down", metadata: ["connections": "\(connectionCount)"])
        try? await channel.close()
        try? await networkChannel?.close()
        unlink(shared.configuration.socketPath)
        let open = connections.withLockedValue { Array($0.values) }
        for connection in open {
            connection.pipeline.fireUserInboundEventTriggered(IntakeDrainEvent())
        }
        // Running extension ops finish first, with the clients still sending; all within the one grace.
        let start = NIODeadline.now()
        await shared.waitForOperations(timeout: grace, on: channel.eventLoop)
        let remaining = max(.zero, grace - (NIODeadline.now() - start))
        for (_, client) in shared.routes.clients {
            await client.shutdown(grace: remaining)
        }
        // Replies are written as results arrive; a peer that does not read them gets a little longer, then
        // its connection is closed.
        let closeDeadline = NIODeadline.now() + .seconds(2)
        for connection in open {
            let timer = connection.eventLoop.scheduleTask(deadline: closeDeadline) { connection.close(promise: nil) }
            try? await connection.closeFuture.get()
            timer.cancel()
        }
        logger.info("intake stopped")
    }
}

/// Answers `TooManyConnections` and closes.
final class RejectConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    func channelActive(context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: 128)
        ReplyWriter.error(
            id: nil, code: .tooManyConnections, message: "the gateway allows at most \(limit) intake connections",
            into: &buffer)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in channel.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
