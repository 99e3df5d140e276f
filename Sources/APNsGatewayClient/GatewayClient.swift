import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

import Foundation

/// An async client for the gateway's intake socket.
///
/// Requests are pipelined on one connection; replies are matched by `id`, so any number of tasks may call
/// it at once.
///
/// ```swift
/// let client = try await GatewayClient.connect(path: "/run/apns-gateway/intake.sock")
/// let results = try await client.send([GatewayNotification(token: token, payload: #"{"aps":{"alert":"hi"}}"#)])
/// try await client.close()
/// ```
public final class GatewayClient: Sendable {
    private let channel: any Channel
    private let pending: PendingReplies
    private let nextID = NIOLockedValueBox(0)

    private init(channel: any Channel, pending: PendingReplies) {
        self.channel = channel
        self.pending = pending
    }

    /// Connects to the intake socket at `path`. Without a `group` the client runs on NIO's shared singleton group.
    public static func connect(path: String, group: (any EventLoopGroup)? = nil) async throws -> GatewayClient {
        let pending = PendingReplies()
        do {
            let channel = try await ClientBootstrap(group: group ?? MultiThreadedEventLoopGroup.singleton)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(ReplyLineDecoder()))
                        try channel.pipeline.syncOperations.addHandler(ReplyHandler(pending: pending))
                    }
                }
                .connect(unixDomainSocketPath: path).get()
            return GatewayClient(channel: channel, pending: pending)
        } catch {
            throw GatewayError(code: "ConnectFailed", message: "cannot connect to \(path): \(error)")
        }
    }

    /// Sends notifications as one `send` request; returns their results in input order.
    /// - Throws: ``GatewayError`` for an error reply or a lost connection.
    public func send(_ notifications: [GatewayNotification]) async throws -> [GatewayResult] {
        try await send(rawNotifications: notifications.map(\.json))
    }

    /// Sends a batch as one `send` request; the same as ``send(_:)``.
    public func send(batch notifications: [GatewayNotification]) async throws -> [GatewayResult] {
        try await send(notifications)
    }

    /// Sends notifications given as JSON object texts, inserted verbatim into one `send` request.
    public func send(rawNotifications: [String]) async throws -> [GatewayResult] {
        let id = makeID()
        var line = "{\"id\":\"\(id)\",\"op\":\"send\",\"notifications\":["
        line.reserveCapacity(rawNotifications.reduce(64) { $0 + $1.utf8.count + 1 })
        for (index, item) in rawNotifications.enumerated() {
            if index > 0 { line += "," }
            line += item
        }
        line += "]}"
        let reply = try await exchange(line: line, key: "s:" + id)
        if let error = reply.error { throw error }
        guard let results = reply.results, results.count == rawNotifications.count else {
            throw GatewayError(code: "BadReply", message: "expected \(rawNotifications.count) results: \(reply.line.prefix(200))")
        }
        return results
    }

    /// Sends `ping` and waits for the pong.
    public func ping() async throws {
        let id = makeID()
        let reply = try await exchange(line: "{\"id\":\"\(id)\",\"op\":\"ping\"}", key: "s:" + id)
        if let error = reply.error { throw error }
    }

    /// Sends `stats` and returns the reply line, `{"id":...,"stats":{...}}` (see docs/protocol.md for its fields).
    public func stats() async throws -> String {
        let id = makeID()
        let reply = try await exchange(line: "{\"id\":\"\(id)\",\"op\":\"stats\"}", key: "s:" + id)
        if let error = reply.error { throw error }
        return reply.line
    }

    /// Sends one request line as given (it must not contain a newline) and returns its reply. The reply is matched
    /// by the line's `id` when it has a string or number id; otherwise (and for replies whose id the gateway could
    /// not read, `"id":null`) by order.
    public func request(line: String) async throws -> GatewayReply {
        var key: String?
        if let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] {
            key = idKey(object["id"])
        }
        return try await exchange(line: line, key: key)
    }

    /// Closes the connection (pending requests fail with `ConnectionClosed`).
    public func close() async {
        try? await channel.close()
    }

    private func makeID() -> String {
        let number = nextID.withLockedValue { value in
            value += 1
            return value
        }
        return "~c\(number)"
    }

    private func exchange(line: String, key: String?) async throws -> GatewayReply {
        var buffer = channel.allocator.buffer(capacity: line.utf8.count + 1)
        buffer.writeString(line)
        buffer.writeInteger(UInt8(ascii: "\n"))
        let channel = self.channel
        return try await withCheckedThrowingContinuation { continuation in
            guard pending.add(key: key, continuation) else {
                continuation.resume(throwing: GatewayError(code: "ConnectionClosed", message: "the connection is closed"))
                return
            }
            channel.writeAndFlush(buffer, promise: nil)
        }
    }
}

/// Requests waiting for their replies: by id, and in order for those without a readable id.
final class PendingReplies: Sendable {
    private struct State {
        var byKey: [String: (Int, CheckedContinuation<GatewayReply, any Error>)] = [:]
        var anonymous: [(Int, CheckedContinuation<GatewayReply, any Error>)] = []
        var sequence = 0
        var closed = false
    }

    private let state = NIOLockedValueBox(State())

    func add(key: String?, _ continuation: CheckedContinuation<GatewayReply, any Error>) -> Bool {
        state.withLockedValue { state in
            guard !state.closed else { return false }
            state.sequence += 1
            if let key {
                state.byKey[key] = (state.sequence, continuation)
            } else {
                state.anonymous.append((state.sequence, continuation))
            }
            return true
        }
    }

    func resolve(key: String?, _ reply: GatewayReply) {
        let continuation = state.withLockedValue { state -> CheckedContinuation<GatewayReply, any Error>? in
            if let key, let entry = state.byKey.removeValue(forKey: key) { return entry.1 }
            if key == nil {
                if !state.anonymous.isEmpty { return state.anonymous.removeFirst().1 }
                // An id the gateway could not read: the oldest request is the best guess.
                if let oldest = state.byKey.min(by: { $0.value.0 < $1.value.0 }) {
                    state.byKey.removeValue(forKey: oldest.key)
                    return oldest.value.1
                }
            }
            return nil
        }
        continuation?.resume(returning: reply)
    }

    func failAll(_ error: GatewayError) {
        let all = state.withLockedValue { state in
            state.closed = true
            let all = state.byKey.values.map(\.1) + state.anonymous.map(\.1)
            state.byKey = [:]
            state.anonymous = []
            return all
        }
        for continuation in all { continuation.resume(throwing: error) }
    }
}

/// Splits the byte stream into lines.
struct ReplyLineDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else { return .needMoreData }
        let length = newline - buffer.readableBytesView.startIndex
        let line = buffer.readSlice(length: length)!
        buffer.moveReaderIndex(forwardBy: 1)
        context.fireChannelRead(wrapInboundOut(line))
        return .continue
    }
}

/// Decodes reply lines and hands each to the request waiting for it.
final class ReplyHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let pending: PendingReplies

    init(pending: PendingReplies) {
        self.pending = pending
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        let line = String(buffer: buffer)
        let object = buffer.withUnsafeReadableBytes { bytes in
            try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any]
        }
        pending.resolve(key: idKey(object?["id"]), GatewayReply(line: line, object: object))
    }

    func channelInactive(context: ChannelHandlerContext) {
        pending.failAll(GatewayError(code: "ConnectionClosed", message: "the gateway closed the connection"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        pending.failAll(GatewayError(code: "ConnectionClosed", message: "connection error: \(error)"))
        context.close(promise: nil)
    }
}
