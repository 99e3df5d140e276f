@testable import HTTP2Engine
import NIOCore
import NIOEmbedded
import XCTest

/// The `CONNECT` handshake in front of a connection, on an embedded channel: what it writes, what it holds back
/// until the proxy's answer, and how it fails.
final class ProxyConnectHandlerTests: XCTestCase {
    /// Stands in for the connection's handler: records what reaches it.
    private final class Recorder: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        var active = false
        var read: [String] = []
        var errors: [String] = []

        func channelActive(context: ChannelHandlerContext) { active = true }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            read.append(String(buffer: unwrapInboundIn(data)))
        }
        func errorCaught(context: ChannelHandlerContext, error: Error) { errors.append("\(error)") }
    }

    private func makeChannel(credentials: HTTP2Proxy.Credentials? = nil) throws -> (EmbeddedChannel, Recorder) {
        let recorder = Recorder()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(HTTP2ProxyConnectHandler(
            proxy: HTTP2Proxy(host: "proxy", port: 3128, credentials: credentials),
            targetHost: "api.push.apple.com", targetPort: 443, timeout: .seconds(5)))
        try channel.pipeline.syncOperations.addHandler(recorder)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 3128)).wait()
        return (channel, recorder)
    }

    func testWritesConnectWithCredentialsAndPassesOnAfterTheProxysAnswer() throws {
        let (channel, recorder) = try makeChannel(credentials: .init(username: "gateway", password: "se:cret"))
        let request = String(buffer: try XCTUnwrap(channel.readOutbound(as: ByteBuffer.self)))
        XCTAssertEqual(
            request,
            "CONNECT api.push.apple.com:443 HTTP/1.1\r\nHost: api.push.apple.com:443\r\n"
                + "Proxy-Authorization: Basic Z2F0ZXdheTpzZTpjcmV0\r\n\r\n")
        XCTAssertFalse(recorder.active, "the TLS handshake waits for the tunnel")

        // The answer in two pieces, the first bytes of the tunnel right behind it.
        try channel.writeInbound(ByteBuffer(string: "HTTP/1.1 200 Connection established\r\nVia: x"))
        XCTAssertFalse(recorder.active)
        try channel.writeInbound(ByteBuffer(string: "\r\n\r\nTLS-BYTES"))
        XCTAssertTrue(recorder.active)
        XCTAssertEqual(recorder.read, ["TLS-BYTES"])
        try channel.writeInbound(ByteBuffer(string: "MORE"))
        XCTAssertEqual(recorder.read, ["TLS-BYTES", "MORE"], "the handler removed itself")
        XCTAssertNil(try? channel.pipeline.syncOperations.handler(type: HTTP2ProxyConnectHandler.self))
        _ = try channel.finish()
    }

    func testARefusalIsAnErrorThatNamesTheStatus() throws {
        let (channel, recorder) = try makeChannel()
        _ = try channel.readOutbound(as: ByteBuffer.self)
        try channel.writeInbound(ByteBuffer(string: "HTTP/1.0 407 Proxy Authentication Required\r\n\r\n"))
        XCTAssertFalse(recorder.active)
        XCTAssertEqual(recorder.errors.count, 1)
        XCTAssertTrue(recorder.errors[0].contains("the proxy refused CONNECT: 407"), "\(recorder.errors)")
        XCTAssertFalse(channel.isActive, "the channel is closed")
    }

    func testAnAnswerThatIsNotHTTPOrNeverEndsIsRefused() throws {
        let (channel, recorder) = try makeChannel()
        try channel.writeInbound(ByteBuffer(string: "SSH-2.0-OpenSSH\r\n\r\n"))
        XCTAssertTrue(recorder.errors.first?.contains("not HTTP/1.x") ?? false, "\(recorder.errors)")

        let (endless, endlessRecorder) = try makeChannel()
        try endless.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\n" + String(repeating: "X", count: 17 * 1024)))
        XCTAssertTrue(endlessRecorder.errors.first?.contains("no end of headers") ?? false, "\(endlessRecorder.errors)")
        XCTAssertFalse(endlessRecorder.active)
    }

    func testNoAnswerWithinTheTimeoutFails() throws {
        let (channel, recorder) = try makeChannel()
        channel.embeddedEventLoop.advanceTime(by: .seconds(5))
        XCTAssertTrue(recorder.errors.first?.contains("did not answer CONNECT in time") ?? false, "\(recorder.errors)")
        XCTAssertFalse(channel.isActive)
    }
}
