import NIOCore

/// An HTTP proxy that connections reach the server through, with `CONNECT`: the TLS session then runs
/// end to end through the tunnel, so the proxy sees neither the requests nor the provider tokens.
public struct HTTP2Proxy: Sendable, Hashable {
    /// User name and password for `Proxy-Authorization: Basic`.
    public struct Credentials: Sendable, Hashable {
        public var username: String
        public var password: String

        public init(username: String, password: String) {
            self.username = username
            self.password = password
        }
    }

    public var host: String
    public var port: Int
    public var credentials: Credentials?

    /// Creates the settings of a proxy at `host`:`port`, with basic authentication when `credentials` are given.
    public init(host: String, port: Int, credentials: Credentials? = nil) {
        self.host = host
        self.port = port
        self.credentials = credentials
    }

    /// The request that opens a tunnel to `host`:`port`.
    func connectRequest(host: String, port: Int) -> String {
        let target = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        var request = "CONNECT \(target) HTTP/1.1\r\nHost: \(target)\r\n"
        if let credentials {
            let token = Self.base64(Array("\(credentials.username):\(credentials.password)".utf8))
            request += "Proxy-Authorization: Basic \(token)\r\n"
        }
        return request + "\r\n"
    }

    static func base64(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let b0 = UInt32(bytes[index])
            let b1 = index + 1 < bytes.count ? UInt32(bytes[index + 1]) : 0
            let b2 = index + 2 < bytes.count ? UInt32(bytes[index + 2]) : 0
            let triple = b0 << 16 | b1 << 8 | b2
            out.append(alphabet[Int(triple >> 18 & 63)])
            out.append(alphabet[Int(triple >> 12 & 63)])
            out.append(index + 1 < bytes.count ? alphabet[Int(triple >> 6 & 63)] : UInt8(ascii: "="))
            out.append(index + 2 < bytes.count ? alphabet[Int(triple & 63)] : UInt8(ascii: "="))
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Opens a `CONNECT` tunnel before anything else happens on a connection.
///
/// It sits in front of the connection's handler and holds back `channelActive` from it: on the proxy's `200`
/// it passes `channelActive` on (the TLS handshake starts), hands over any bytes that came after the proxy's
/// answer and removes itself. Any other answer, a malformed one or none within the timeout closes the channel
/// with ``HTTP2ProxyError``, which the connection's handler reports like any failed connect.
final class HTTP2ProxyConnectHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The most bytes of a proxy's answer read while looking for its end.
    static let maxResponseBytes = 16 * 1024

    private let request: String
    private let timeout: TimeAmount
    private var received: ByteBuffer?
    private var timer: Scheduled<Void>?
    private var done = false

    init(proxy: HTTP2Proxy, targetHost: String, targetPort: Int, timeout: TimeAmount) {
        self.request = proxy.connectRequest(host: targetHost, port: targetPort)
        self.timeout = timeout
    }

    func channelActive(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: timeout) {
            let (handler, context) = loopBound.value
            handler.fail(context: context, HTTP2ProxyError.timedOut)
        }
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: request)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else {
            context.fireChannelRead(data)
            return
        }
        var bytes = unwrapInboundIn(data)
        if received == nil {
            received = bytes
        } else {
            received!.writeBuffer(&bytes)
        }
        guard let buffer = received else { return }
        let view = buffer.readableBytesView
        guard let end = Self.endOfHead(view) else {
            if buffer.readableBytes > Self.maxResponseBytes {
                fail(context: context, .malformedResponse("no end of headers in \(Self.maxResponseBytes) bytes"))
            }
            return
        }
        let head = String(decoding: view[view.startIndex..<end], as: UTF8.self)
        let statusLine = head.split(separator: "\r\n", maxSplits: 1).first.map(String.init) ?? ""
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            fail(context: context, .malformedResponse(String(statusLine.prefix(80))))
            return
        }
        guard (200..<300).contains(status) else {
            fail(context: context, .refused(status: status, reason: parts.count > 2 ? String(parts[2].prefix(80)) : ""))
            return
        }
        done = true
        timer?.cancel()
        let rest = buffer.getSlice(at: buffer.readerIndex + (end + 4 - view.startIndex), length: view.endIndex - end - 4)
        received = nil
        context.fireChannelActive()
        if let rest, rest.readableBytes > 0 {
            context.fireChannelRead(wrapInboundOut(rest))
            context.fireChannelReadComplete()
        }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        if !done {
            // The next handler never saw channelActive: tell it why the connect failed.
            done = true
            context.fireErrorCaught(HTTP2ProxyError.closed)
        }
        context.fireChannelInactive()
    }

    private func fail(context: ChannelHandlerContext, _ error: HTTP2ProxyError) {
        guard !done else { return }
        done = true
        timer?.cancel()
        context.fireErrorCaught(error)
        context.close(promise: nil)
    }

    /// The offset of the `\r\n\r\n` that ends a response head.
    static func endOfHead(_ view: ByteBufferView) -> Int? {
        guard view.count >= 4 else { return nil }
        var index = view.startIndex
        while index + 3 < view.endIndex {
            if view[index] == 13, view[index + 1] == 10, view[index + 2] == 13, view[index + 3] == 10 { return index }
            index += 1
        }
        return nil
    }
}

/// Why a tunnel through the proxy could not be opened.
public enum HTTP2ProxyError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The proxy answered `CONNECT` with a status other than 2xx (407 or 401: the credentials are missing or wrong).
    case refused(status: Int, reason: String)
    /// The proxy's answer is not an HTTP/1.x response.
    case malformedResponse(String)
    /// The proxy did not answer within the connect timeout.
    case timedOut
    /// The proxy closed the connection before answering.
    case closed

    public var description: String {
        switch self {
        case .refused(let status, let reason):
            // 407 for missing credentials; some proxies (tinyproxy) answer wrong ones with 401.
            "the proxy refused CONNECT: \(status) \(reason)" + (status == 407 || status == 401 ? " (check the proxy credentials)" : "")
        case .malformedResponse(let line): "the proxy's answer to CONNECT is not HTTP/1.x: \(line)"
        case .timedOut: "the proxy did not answer CONNECT in time"
        case .closed: "the proxy closed the connection before answering CONNECT"
        }
    }
}
