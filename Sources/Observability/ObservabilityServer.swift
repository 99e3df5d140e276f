import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// The operations endpoint: a small HTTP/1.1 server on its own port for `/metrics` (Prometheus), `/healthz`
/// (the process is alive: always 200) and `/readyz` (200 when every app can deliver, 503 with the reasons
/// otherwise). Only `GET` and `HEAD`; anything else is 404 or 405.
///
/// It runs on the gateway's event loops; a scrape renders on one of them (a few hundred series: well under a
/// millisecond).
public final class ObservabilityServer: Sendable {
    private let channel: any Channel
    /// The bound address's port (useful when started on port 0).
    public let port: Int

    private init(channel: any Channel) {
        self.channel = channel
        self.port = channel.localAddress?.port ?? 0
    }

    /// Binds `host:port` and starts serving.
    ///
    /// - Parameters:
    ///   - metrics: what `/metrics` shows; nil answers 404 there.
    ///   - readiness: asked on each `/readyz`.
    public static func start(
        host: String,
        port: Int,
        group: any EventLoopGroup,
        metrics: GatewayMetrics?,
        readiness: @escaping @Sendable () -> Readiness,
        logger: Logger = Logger(label: "apns.observability")
    ) async throws -> ObservabilityServer {
        let routes = OperationsRoutes(metrics: metrics, readiness: readiness)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(OperationsHandler(routes: routes))
                }
            }
            .bind(host: host, port: port).get()
        let server = ObservabilityServer(channel: channel)
        logger.info("operations endpoint listening", metadata: ["address": "\(host):\(server.port)", "metrics": "\(metrics != nil)"])
        return server
    }

    /// Stops listening. Connections in progress finish on their own.
    public func shutdown() async {
        try? await channel.close()
    }
}

/// What each path answers.
struct OperationsRoutes: Sendable {
    let metrics: GatewayMetrics?
    let readiness: @Sendable () -> Readiness

    struct Answer {
        var status: HTTPResponseStatus
        var contentType: String
        var body: [UInt8]
    }

    func answer(method: HTTPMethod, uri: String) -> Answer {
        let path = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? uri
        let text = "text/plain; charset=utf-8"
        let known = ["/metrics", "/healthz", "/readyz"]
        guard known.contains(path), path != "/metrics" || metrics != nil else {
            return Answer(status: .notFound, contentType: text, body: Array("not found; try /metrics, /healthz or /readyz\n".utf8))
        }
        guard method == .GET || method == .HEAD else {
            return Answer(status: .methodNotAllowed, contentType: text, body: Array("only GET and HEAD\n".utf8))
        }
        switch path {
        case "/metrics":
            return Answer(status: .ok, contentType: "text/plain; version=0.0.4; charset=utf-8", body: metrics!.render())
        case "/healthz":
            return Answer(status: .ok, contentType: text, body: Array("ok\n".utf8))
        default:
            let report = readiness()
            return Answer(status: report.isReady ? .ok : .serviceUnavailable, contentType: text, body: Array(report.text.utf8))
        }
    }
}

/// One HTTP/1.1 connection to the operations endpoint.
final class OperationsHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let routes: OperationsRoutes
    private var request: HTTPRequestHead?

    init(routes: OperationsRoutes) {
        self.routes = routes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            request = head
        case .body:
            break
        case .end:
            guard let head = request else { return }
            request = nil
            respond(to: head, context: context)
        }
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let answer = routes.answer(method: head.method, uri: head.uri)
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: answer.contentType)
        headers.add(name: "content-length", value: String(answer.body.count))
        headers.add(name: "cache-control", value: "no-store")
        let keepAlive = head.isKeepAlive
        if !keepAlive { headers.add(name: "connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: answer.status, headers: headers))), promise: nil)
        if head.method != .HEAD {
            var buffer = context.channel.allocator.buffer(capacity: answer.body.count)
            buffer.writeBytes(answer.body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { channel.close(promise: nil) }
        }
    }
}
