import JSON
import Logging
import NIOCore
import NIOSSL
import NIOTLS

/// The first stage of a network intake connection, after TLS: it waits for the client to authenticate, then puts
/// an ``IntakeConnectionHandler`` for the authenticated ``IntakePrincipal`` in its place and hands it the bytes
/// that followed.
///
/// A client authenticates with its first line, `{"id":…,"op":"auth","token":"…"}` (answered
/// `{"id":…,"authenticated":{"principal":"…","scopes":[…]}}`), or, when the listener asks for client certificates,
/// with a certificate whose subject common name the credentials map to a principal (no line, no reply). Anything
/// else — another first line, an unknown token, a first line over
/// ``NetworkIntakeConfiguration/maxAuthLineBytes``, nothing within ``NetworkIntakeConfiguration/authTimeout`` —
/// gets one `Unauthenticated` error line and the connection closes. The token never reaches a log.
final class IntakeAuthHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State {
        case waiting
        case authenticated
        case refused
    }

    private let shared: IntakeContext
    private let network: NetworkIntakeConfiguration
    private let logger: Logger
    private var state = State.waiting
    private var pending: ByteBuffer?
    private var timer: Scheduled<Void>?
    private var context: ChannelHandlerContext?

    init(context shared: IntakeContext, network: NetworkIntakeConfiguration, logger: Logger) {
        self.shared = shared
        self.network = network
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let seconds = Double(network.authTimeout.nanoseconds) / 1e9
        timer = context.eventLoop.scheduleTask(in: network.authTimeout) {
            loopBound.value.refuse(id: nil, "no authentication within \(seconds) seconds", reason: "timeout")
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard state == .waiting else { return }
        var bytes = unwrapInboundIn(data)
        shared.bytesReceived.add(bytes.readableBytes, ordering: .relaxed)
        if pending == nil {
            pending = bytes
        } else {
            pending!.writeBuffer(&bytes)
        }
        let limit = NetworkIntakeConfiguration.maxAuthLineBytes
        while state == .waiting, var buffer = pending {
            guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
                if buffer.readableBytes > limit {
                    refuse(id: nil, "the first line must be an auth request of at most \(limit) bytes", reason: "line too long")
                }
                return
            }
            let length = newline - buffer.readerIndex
            var line = buffer.readSlice(length: length)!
            buffer.moveReaderIndex(forwardBy: 1)
            pending = buffer
            if line.readableBytesView.last == UInt8(ascii: "\r") { line.moveWriterIndex(to: line.writerIndex - 1) }
            if line.readableBytes > limit {
                refuse(id: nil, "the first line must be an auth request of at most \(limit) bytes", reason: "line too long")
            } else if line.readableBytesView.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") }) {
                authenticate(line)
            }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event {
            certificateHandshakeCompleted(context: context)
        } else if case ChannelEvent.inputClosed = event {
            refuse(id: nil, "the input ended before an auth line", reason: "no auth line")
            return
        } else if event is IntakeDrainEvent {
            // Nothing was accepted yet: the connection just goes.
            if state == .waiting {
                state = .refused
                context.close(promise: nil)
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // TLS failures (a bad or missing client certificate, a handshake that went wrong) end here.
        logger.info(
            "intake connection failed before authenticating",
            metadata: ["remote": "\(context.channel.remoteAddress.map { "\($0)" } ?? "?")", "error": "\(error)"])
        state = .refused
        context.close(promise: nil)
    }

    // MARK: Authentication

    /// With client certificates asked for: a certificate whose common name maps to a principal authenticates the
    /// connection; otherwise the client may still send a token.
    private func certificateHandshakeCompleted(context: ChannelHandlerContext) {
        guard state == .waiting, network.clientCAFile != nil,
            let tls = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self),
            let certificate = tls.peerCertificate,
            let commonName = certificate.subjectName.first(where: { $0.type == .commonName })?.value
        else { return }
        if let principal = network.credentials.principal(forCommonName: commonName) {
            authenticated(principal, method: "certificate", reply: nil)
        } else {
            logger.debug(
                "intake client certificate names no principal; a token may follow",
                metadata: ["remote": "\(context.channel.remoteAddress.map { "\($0)" } ?? "?")", "commonName": "\(commonName)"])
        }
    }

    private func authenticate(_ line: ByteBuffer) {
        let usage = "the first line must be {\"op\":\"auth\",\"token\":\"…\"}"
        let object: JSONObject
        do throws(JSONSyntaxError) {
            object = try JSONObject(parsing: line)
        } catch {
            refuse(id: nil, "\(usage); it is not a JSON object (\(error.problem) at byte \(error.offset))", reason: "invalid JSON")
            return
        }
        var id: ByteBuffer?
        if let value = object["id"], value.kind == .string || value.kind == .number {
            id = value.bytes
        }
        guard object["op"]?.string == "auth" else {
            refuse(id: id, "authenticate first: \(usage)", reason: "no auth line")
            return
        }
        guard let value = object["token"], let token = value.string, !token.isEmpty else {
            refuse(id: id, "missing \"token\" (a non-empty string): \(usage)", reason: "no token")
            return
        }
        guard token.utf8.count <= IntakeCredentials.maxTokenBytes, let principal = network.credentials.principal(forToken: token)
        else {
            refuse(id: id, "the token is not valid", reason: "unknown token")
            return
        }
        var writer = JSONWriter(capacity: 96)
        writer.beginObject("authenticated")
        writer.string("principal", principal.name)
        writer.beginArray("scopes")
        for scope in principal.scopes.sorted() { writer.element(scope.rawValue) }
        writer.endArray()
        writer.endObject()
        authenticated(principal, method: "token", reply: (id, writer.buffer))
    }

    /// Answers the auth line (if any), hands the connection to an ``IntakeConnectionHandler`` for `principal`
    /// with the bytes read after the line, and leaves the pipeline.
    private func authenticated(_ principal: IntakePrincipal, method: String, reply: (id: ByteBuffer?, members: ByteBuffer)?) {
        guard let context else { return }
        state = .authenticated
        timer?.cancel()
        logger.debug(
            "intake client authenticated",
            metadata: [
                "remote": "\(context.channel.remoteAddress.map { "\($0)" } ?? "?")", "principal": "\(principal.name)",
                "method": "\(method)",
            ])
        if let reply {
            var buffer = context.channel.allocator.buffer(capacity: 32 + reply.members.readableBytes)
            ReplyWriter.members(id: reply.id, reply.members, into: &buffer)
            context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        }
        do {
            try context.pipeline.syncOperations.addHandler(
                IntakeConnectionHandler(context: shared, principal: principal), position: .after(self))
        } catch {
            context.close(promise: nil)
            return
        }
        if let rest = pending, rest.readableBytes > 0 {
            context.fireChannelRead(wrapInboundOut(rest))
        }
        pending = nil
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    /// One `Unauthenticated` line, then the close. `reason` is for the log: it never holds the token.
    private func refuse(id: ByteBuffer?, _ message: String, reason: String) {
        guard state == .waiting, let context else { return }
        state = .refused
        timer?.cancel()
        pending = nil
        shared.countError(.unauthenticated)
        logger.info(
            "intake client refused",
            metadata: ["remote": "\(context.channel.remoteAddress.map { "\($0)" } ?? "?")", "reason": "\(reason)"])
        var buffer = context.channel.allocator.buffer(capacity: 96 + message.utf8.count)
        ReplyWriter.error(id: id, code: .unauthenticated, message: message, into: &buffer)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in channel.close(promise: nil) }
    }
}

/// The first handler of a network intake connection: a first byte that cannot start a TLS handshake (plain
/// text, e.g. a request line) is answered with one `TLSRequired` line in plain text, and the connection closes;
/// otherwise it steps aside for TLS.
final class TLSRequiredHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let shared: IntakeContext
    private var refused = false

    init(context shared: IntakeContext) {
        self.shared = shared
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        let bytes = unwrapInboundIn(data)
        guard let first = bytes.getInteger(at: bytes.readerIndex, as: UInt8.self) else { return }
        // 0x16: a TLS handshake record (the ClientHello).
        if first == 0x16 {
            context.fireChannelRead(data)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            return
        }
        refused = true
        shared.countError(.tlsRequired)
        var buffer = context.channel.allocator.buffer(capacity: 128)
        ReplyWriter.error(
            id: nil, code: .tlsRequired, message: "this port speaks TLS only: connect with TLS, then authenticate", into: &buffer)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in channel.close(promise: nil) }
    }
}
