import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL

extension IntakeServer {
    /// Binds the network intake's TCP port. Each connection's pipeline: ``TLSRequiredHandler`` (plain text gets
    /// `TLSRequired`), TLS, then ``IntakeAuthHandler``, which hands an authenticated connection to an
    /// ``IntakeConnectionHandler``; a connection over the limit gets `TooManyConnections` over TLS.
    static func bindNetwork(
        _ network: NetworkIntakeConfiguration, shared: IntakeContext,
        connections: NIOLockedValueBox<[ObjectIdentifier: any Channel]>, group: any EventLoopGroup, logger: Logger
    ) async throws -> any Channel {
        let tls = try network.makeTLSContext()
        let limit = shared.configuration.maxConnections
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 64 * 1024, high: 256 * 1024))
            .childChannelInitializer { child in
                accept(child, shared: shared, connections: connections) { pipeline, accepted in
                    try pipeline.addHandler(TLSRequiredHandler(context: shared))
                    try pipeline.addHandler(NIOSSLServerHandler(context: tls))
                    if accepted {
                        try pipeline.addHandler(IntakeAuthHandler(context: shared, network: network, logger: logger))
                    } else {
                        try pipeline.addHandler(RejectConnectionHandler(limit: limit))
                    }
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.bind(host: network.host, port: network.port).get()
        } catch {
            throw IntakeError("cannot listen on \(network.listenDescription) for the network intake: \(error)")
        }
        logger.info(
            "network intake listening",
            metadata: [
                "address": "\(channel.localAddress.map { "\($0)" } ?? network.listenDescription)",
                "clientCertificates": "\(network.clientCAFile == nil ? "no" : "required")",
                "principals": "\(network.credentials.principals.count)",
            ])
        return channel
    }
}
