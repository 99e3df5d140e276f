import APNs
import APNsCore
import Foundation
import GatewayTestSupport
import Intake
import Logging
import MockAPNs
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import XCTest

/// Test-only bearer tokens (random-looking, never used anywhere else).
enum TestTokens {
    static let backend = "test-only-backend-token-0123456789abcdef"
    static let statsOnly = "test-only-stats-token-fedcba9876543210"
    static let limited = "test-only-limited-token-00112233445566"
    static let wrong = "test-only-wrong-token-99887766554433221100"

    /// A credentials file: `backend` may send and read stats, `watcher` only read stats, `limited` send 10 a
    /// second (bursts of 10); plus `extra` lines.
    static func file(extra: [String] = []) throws -> String {
        ([
            "# test-only credentials",
            try IntakeCredentials.hashLine(name: "backend", scopes: [.send, .stats], rateLimit: nil, token: backend),
            try IntakeCredentials.hashLine(name: "watcher", scopes: [.stats], rateLimit: nil, token: statsOnly),
            try IntakeCredentials.hashLine(
                name: "limited", scopes: [.send], rateLimit: IntakeRateLimit(perSecond: 10, burst: 10), token: limited),
        ] + extra).joined(separator: "\n") + "\n"
    }
}

/// The mock APNs, an APNs client to it, and an intake with both its Unix socket and a network listener on
/// 127.0.0.1 (a free port), with the test server certificate. ``stop()`` shuts all down.
final class NetworkIntakeHarness: Sendable {
    let mock: MockAPNsServer
    let group: MultiThreadedEventLoopGroup
    let intake: IntakeServer
    let directory: String
    let port: Int
    var socketPath: String { directory + "/intake.sock" }

    private init(mock: MockAPNsServer, group: MultiThreadedEventLoopGroup, intake: IntakeServer, directory: String, port: Int) {
        self.mock = mock
        self.group = group
        self.intake = intake
        self.directory = directory
        self.port = port
    }

    static func start(
        credentials: String? = nil, clientCAFile: String? = nil, authTimeout: TimeAmount = .seconds(10), logger: Logger? = nil
    ) async throws -> NetworkIntakeHarness {
        let mock = try await IntakeHarness.startMock()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        var quiet = Logger(label: "test")
        quiet.logLevel = .warning
        let tokens = try APNsProviderTokenCache(key: try IntakeHarness.signingKey(), keyID: "TESTKEY123", teamID: "TEAM123456")
        let client = try APNsClient(
            configuration: APNsClientConfiguration(
                environment: .custom(host: "127.0.0.1", port: mock.port, serverName: "localhost", caFile: certificatePath("test-ca.pem")),
                authentication: .token(tokens),
                connectionCount: 1,
                requestTimeout: .seconds(20 * Sanitizer.deadlineFactor)
            ),
            group: group,
            logger: quiet
        )
        client.start()
        let directory = try makeTemporaryDirectory()
        var configuration = IntakeConfiguration(socketPath: directory + "/intake.sock")
        configuration.network = NetworkIntakeConfiguration(
            host: "127.0.0.1", port: 0, certificateFile: certificatePath("localhost.pem"),
            privateKeyFile: certificatePath("localhost.key"), clientCAFile: clientCAFile,
            credentials: try IntakeCredentials(parsing: try credentials ?? TestTokens.file(), source: "test credentials"),
            authTimeout: authTimeout)
        let intake = try await IntakeServer.start(
            configuration: configuration, apps: [APNsApp(name: "demo", bundleID: "com.example.app", client: client)], group: group,
            logger: logger ?? quiet)
        let port = try XCTUnwrap(intake.networkAddress?.port)
        return NetworkIntakeHarness(mock: mock, group: group, intake: intake, directory: directory, port: port)
    }

    /// A connection to the network port: TLS trusting the test CA (with a client certificate when given), or
    /// plain TCP when `tls` is false.
    func connect(tls: Bool = true, clientCertificate: (chain: String, key: String)? = nil) async throws -> LineConnection {
        var context: NIOSSLContext?
        if tls {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.trustRoots = .file(certificatePath("test-ca.pem"))
            if let clientCertificate {
                configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(clientCertificate.chain).map { .certificate($0) }
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: clientCertificate.key, format: .pem))
            }
            context = try NIOSSLContext(configuration: configuration)
        }
        return try await LineConnection.connect(port: port, tls: context, group: group)
    }

    func stop() async throws {
        await intake.shutdown(grace: .seconds(2))
        try await mock.shutdown()
        try await group.shutdownGracefully()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// A client connection that reads lines: ``next()`` gives each line the server sent, then `nil` once the
/// connection is closed. A connection the server leaves open gives `nil` after 20 seconds (the test then fails
/// on what it expected), so that no test hangs.
struct LineConnection {
    enum Event: Sendable {
        case line(String)
        case closed
    }

    let channel: any Channel
    private var iterator: AsyncStream<Event>.AsyncIterator

    static func connect(port: Int, tls: NIOSSLContext?, group: any EventLoopGroup) async throws -> LineConnection {
        let (stream, continuation) = AsyncStream<Event>.makeStream()
        let channel = try await ClientBootstrap(group: group)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: "localhost"))
                    }
                    try channel.pipeline.syncOperations.addHandler(LineCollector(continuation: continuation))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        let timer = channel.eventLoop.scheduleTask(in: .seconds(20)) { channel.close(promise: nil) }
        channel.closeFuture.whenComplete { _ in timer.cancel() }
        return LineConnection(channel: channel, iterator: stream.makeAsyncIterator())
    }

    private init(channel: any Channel, iterator: AsyncStream<Event>.AsyncIterator) {
        self.channel = channel
        self.iterator = iterator
    }

    /// Writes `text` as is (end lines with "\n").
    func write(_ text: String) async throws {
        try await channel.writeAndFlush(ByteBuffer(string: text)).get()
    }

    /// The next line; nil once the connection is closed.
    mutating func next() async -> String? {
        guard case .line(let line) = await iterator.next() else { return nil }
        return line
    }

    /// The next line as a JSON object.
    mutating func nextObject(file: StaticString = #filePath, line: UInt = #line) async throws -> [String: Any] {
        let next = await next()
        let text = try XCTUnwrap(next, "the connection closed", file: file, line: line)
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text, file: file, line: line)
    }

    /// Every line until the close.
    mutating func rest() async -> [String] {
        var lines: [String] = []
        while let line = await next() { lines.append(line) }
        return lines
    }

    func close() async {
        try? await channel.close()
    }
}

/// Splits what arrives into lines for a ``LineConnection``.
private final class LineCollector: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let continuation: AsyncStream<LineConnection.Event>.Continuation
    private var pending = ByteBuffer()

    init(continuation: AsyncStream<LineConnection.Event>.Continuation) {
        self.continuation = continuation
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        pending.writeBuffer(&bytes)
        while let newline = pending.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
            let line = pending.readString(length: newline - pending.readerIndex)!
            pending.moveReaderIndex(forwardBy: 1)
            continuation.yield(.line(line))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        continuation.yield(.closed)
        continuation.finish()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The server's close_notify (TLS) or FIN (plain TCP): it has said everything.
        if case ChannelEvent.inputClosed = event {
            continuation.yield(.closed)
            continuation.finish()
            context.close(promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // TLS alerts from the server (a refused client certificate) and resets end the connection.
        context.close(promise: nil)
    }
}

/// `{"id":N,"op":"send","notifications":[…]}` with `count` notifications to distinct test tokens.
func sendLine(id: Int, count: Int, first: Int = 0) -> String {
    let items = (first..<first + count).map { #"{"token":"\#(deviceToken($0))","payload":{"aps":{"alert":"hi"}}}"# }
    return #"{"id":\#(id),"op":"send","notifications":[\#(items.joined(separator: ","))]}"# + "\n"
}

func authLine(id: Int = 1, token: String) -> String {
    #"{"id":\#(id),"op":"auth","token":"\#(token)"}"# + "\n"
}

extension Dictionary where Key == String, Value == Any {
    /// `error.code` of an error reply.
    var errorCode: String? { (self["error"] as? [String: Any])?["code"] as? String }
    var errorMessage: String? { (self["error"] as? [String: Any])?["message"] as? String }
    /// The `results` of a `send` reply.
    var results: [[String: Any]] { self["results"] as? [[String: Any]] ?? [] }
}
