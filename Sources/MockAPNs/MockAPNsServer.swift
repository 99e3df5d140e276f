import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP2
import NIOPosix
import NIOSSL

/// A TLS + HTTP/2 server that behaves like APNs: it validates pushes as APNs does, answers with
/// APNs's statuses and reasons, limits streams until the first success, records what it received,
/// and misbehaves on request (``MockFaults``).
///
/// Built on swift-nio-http2 and swift-nio-ssl, an HTTP/2 stack independent of the gateway's own.
///
/// ```swift
/// var configuration = MockAPNsConfiguration(
///     certificateChainPath: "certs/localhost.pem", privateKeyPath: "certs/localhost.key",
///     providerKeys: [MockProviderKey(keyID: "TESTKEY123", teamID: "TEAM123456", publicKeyPEM: pem)],
///     bundleIDs: ["com.example.app"])
/// let server = try await MockAPNsServer.start(configuration: configuration)
/// // ... push to https://127.0.0.1:\(server.port)/3/device/<token> ...
/// try await server.shutdown()
/// ```
public final class MockAPNsServer: Sendable {
    private let channel: any Channel
    private let group: any EventLoopGroup
    private let ownsGroup: Bool
    private let context: MockServerContext
    private let isShutDown = NIOLockedValueBox(false)

    /// The TCP port the server listens on (the one picked when the configuration said 0).
    public let port: Int

    /// The host the server is bound to.
    public let host: String

    private init(channel: any Channel, group: any EventLoopGroup, ownsGroup: Bool, context: MockServerContext, host: String) {
        self.channel = channel
        self.group = group
        self.ownsGroup = ownsGroup
        self.context = context
        self.host = host
        self.port = channel.localAddress?.port ?? 0
    }

    /// Starts a server and returns once it listens.
    ///
    /// - Parameters:
    ///   - configuration: what to listen on and how to behave.
    ///   - group: the event loops to run on; by default the server makes its own with one thread
    ///     per core and shuts it down in ``shutdown()``.
    /// - Throws: ``MockAPNsError`` when a certificate, key or provider key can't be loaded, or the
    ///   bind error.
    public static func start(
        configuration: MockAPNsConfiguration,
        group: (any EventLoopGroup)? = nil
    ) async throws -> MockAPNsServer {
        let verifier: ProviderTokenVerifier? =
            configuration.trustRootsForClientCertificates == nil
            ? try ProviderTokenVerifier(keys: configuration.providerKeys) : nil
        let tlsContext = try Self.makeTLSContext(configuration)
        let recordFile = try configuration.recordFilePath.map { try MockRecordFile(path: $0) }
        let context = MockServerContext(configuration: configuration, verifier: verifier, recordFile: recordFile)

        let eventLoopGroup = group ?? MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let bootstrap = ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try Self.configurePipeline(channel, tlsContext: tlsContext, context: context)
                }
            }
        do {
            let channel = try await bootstrap.bind(host: configuration.host, port: configuration.port).get()
            return MockAPNsServer(
                channel: channel,
                group: eventLoopGroup,
                ownsGroup: group == nil,
                context: context,
                host: configuration.host
            )
        } catch {
            if group == nil {
                try? await eventLoopGroup.shutdownGracefully()
            }
            throw error
        }
    }

    /// Stops listening, closes every open connection, and (when the server made its own) shuts the
    /// event loops down. Calling it again does nothing.
    public func shutdown() async throws {
        let alreadyShutDown = self.isShutDown.withLockedValue { done in
            defer { done = true }
            return done
        }
        guard !alreadyShutDown else { return }
        try? await self.channel.close()
        // All at once: a TLS close may wait a while for the peer's close_notify.
        let closing = self.context.state.openChannels().map { $0.close() }
        for future in closing {
            try? await future.get()
        }
        if self.ownsGroup {
            try await self.group.shutdownGracefully()
        }
    }

    /// Every request received so far, in the order their batches were processed (in stream order
    /// per connection). A snapshot; safe from any thread.
    public var received: [MockReceivedRequest] {
        self.context.state.received
    }

    /// The broadcast channels of a bundle ID that exist now (ID → message storage policy). A snapshot.
    public func channels(forBundleID bundleID: String) -> [String: Int] {
        self.context.broadcasts.store.channels(bundleID: bundleID)
    }

    /// Forgets the recorded requests and zeroes ``stats``.
    public func resetRecord() {
        self.context.state.reset()
    }

    /// Counters over all connections. A snapshot; safe from any thread.
    public var stats: MockStats {
        self.context.state.stats
    }

    /// The faults in force.
    public var faults: MockFaults {
        self.context.state.faults
    }

    /// Replaces the faults; takes effect from the next read batch of every connection.
    public func setFaults(_ faults: MockFaults) {
        self.context.state.faults = faults
    }

    /// Sends GOAWAY (error NO_ERROR) on every open connection now, with the last stream each one has
    /// answered as last-stream-id; each connection closes once those streams are done, like APNs
    /// retiring a server. Connections that already sent GOAWAY are left alone.
    public func goAwayEverywhere() {
        for channel in self.context.state.openChannels() {
            channel.pipeline.fireUserInboundEventTriggered(MockConnectionCommand.goAway)
        }
    }

    /// The line format of ``MockAPNsConfiguration/recordFilePath``.
    public static let recordFileFormat = """
        one line per request decided and per connection event: \
        <ms since the epoch> <apns-id or -> <outcome> <connection> <device token or ->; outcome is the status answered, \
        reset (RST_STREAM), lost (received, never answered: dropped or stalled), refused (above the \
        mock's GOAWAY last-stream-id: not processed), connect (accepted) or goaway (sent)
        """

    private static func configurePipeline(
        _ channel: any Channel,
        tlsContext: NIOSSLContext,
        context: MockServerContext
    ) throws {
        let connectionID = context.state.connectionOpened(channel)
        if let recordFile = context.recordFile {
            var line: [UInt8] = []
            MockRecordFile.line(
                into: &line, milliseconds: MockRecordFile.now(), apnsID: "", outcome: "connect",
                connectionID: connectionID)
            recordFile.append(line)
        }
        channel.closeFuture.whenComplete { _ in
            context.state.connectionClosed(channel)
        }
        let transport = TransportAbortHandler()
        let gate = TransportGateHandler()
        let http2 = NIOHTTP2Handler(mode: .server, connectionConfiguration: context.http2Configuration)
        let handler = MockConnectionHandler(
            server: context,
            gate: gate,
            transport: transport,
            connectionID: connectionID
        )
        let pipeline = channel.pipeline.syncOperations
        try pipeline.addHandler(transport)
        try pipeline.addHandler(NIOSSLServerHandler(context: tlsContext))
        try pipeline.addHandler(gate)
        try pipeline.addHandler(WriteCoalescingHandler())
        try pipeline.addHandler(http2)
        try pipeline.addHandler(handler)
    }

    private static func makeTLSContext(_ configuration: MockAPNsConfiguration) throws -> NIOSSLContext {
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMFile(configuration.certificateChainPath)
        } catch {
            throw MockAPNsError("cannot read certificate chain \(configuration.certificateChainPath): \(error)")
        }
        do {
            key = try NIOSSLPrivateKey(file: configuration.privateKeyPath, format: .pem)
        } catch {
            throw MockAPNsError("cannot read private key \(configuration.privateKeyPath): \(error)")
        }
        var tls: TLSConfiguration
        if let trustRoots = configuration.trustRootsForClientCertificates {
            tls = TLSConfiguration.makeServerConfigurationWithMTLS(
                certificateChain: chain.map { .certificate($0) },
                privateKey: .privateKey(key),
                trustRoots: .file(trustRoots)
            )
        } else {
            tls = TLSConfiguration.makeServerConfiguration(
                certificateChain: chain.map { .certificate($0) },
                privateKey: .privateKey(key)
            )
        }
        tls.minimumTLSVersion = .tlsv12
        tls.applicationProtocols = ["h2"]
        do {
            return try NIOSSLContext(configuration: tls)
        } catch {
            throw MockAPNsError("cannot set up TLS: \(error)")
        }
    }
}
