import APNsCore
import HTTP2Engine
import JSON
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// A channel management request: create, read, delete or list an app's broadcast channels.
public enum APNsChannelRequest: Sendable, Hashable {
    /// `POST /1/apps/<bundle>/channels` with the storage policy: 0 stores no message (broadcasts then take
    /// only `apns-expiration: 0`), 1 keeps the most recent one for devices that are offline.
    case create(bundleID: String, storagePolicy: Int)
    /// `GET /1/apps/<bundle>/channels` with `apns-channel-id`.
    case read(bundleID: String, channelID: String)
    /// `DELETE /1/apps/<bundle>/channels` with `apns-channel-id`.
    case delete(bundleID: String, channelID: String)
    /// `GET /1/apps/<bundle>/all-channels`.
    case list(bundleID: String)

    var method: String {
        switch self {
        case .create: "POST"
        case .read, .list: "GET"
        case .delete: "DELETE"
        }
    }

    var path: String {
        switch self {
        case .create(let bundleID, _), .read(let bundleID, _), .delete(let bundleID, _):
            "/1/apps/\(bundleID)/channels"
        case .list(let bundleID):
            "/1/apps/\(bundleID)/all-channels"
        }
    }

    var channelID: String? {
        switch self {
        case .read(_, let id), .delete(_, let id): id
        case .create, .list: nil
        }
    }
}

/// The answer to a channel management request.
public struct APNsChannelResult: Sendable, Hashable {
    public var source: APNsResult.Source
    /// APNs's status: 201 for a create, 200 for a read or list, 204 for a delete.
    public var status: Int?
    /// APNs's reason, or the gateway's (``GatewayReason``).
    public var reason: String?
    public var detail: String?
    /// `apns-request-id` of the answer.
    public var requestID: String?
    /// The channel created or read (`apns-channel-id`).
    public var channelID: String?
    /// The channel's `message-storage-policy` (a read).
    public var storagePolicy: Int?
    /// Every channel ID of the app (a list).
    public var channels: [String]?

    /// Creates a result.
    public init(
        source: APNsResult.Source, status: Int? = nil, reason: String? = nil, detail: String? = nil,
        requestID: String? = nil, channelID: String? = nil, storagePolicy: Int? = nil, channels: [String]? = nil
    ) {
        self.source = source
        self.status = status
        self.reason = reason
        self.detail = detail
        self.requestID = requestID
        self.channelID = channelID
        self.storagePolicy = storagePolicy
        self.channels = channels
    }

    /// True for a 2xx answer.
    public var isSuccess: Bool { status.map { (200...299).contains($0) } ?? false }

    /// APNs's reason as a typed value; nil unless APNs gave the result with a reason.
    public var apnsReason: APNsReason? {
        guard source == .apns, let reason else { return nil }
        return APNsReason(rawValue: reason)
    }
}

/// The client for APNs's channel management hosts (`api-manage-broadcast.push.apple.com:2196`, the sandbox's
/// on 2195, or the custom endpoint itself), on the same engine and provider token as the push client, with a
/// pool of its own: one connection, opened at the first request.
///
/// A request that may have reached APNs is sent once: a create whose answer was lost may have created a channel
/// (list the channels to find out), so none is repeated behind the caller's back. A request that never left
/// (no connection yet, refused above a GOAWAY) waits for a connection until its deadline, and
/// `ExpiredProviderToken` gets a fresh token and one more attempt.
public final class APNsChannelManager: Sendable {
    private let pool: HTTP2ConnectionPool
    private let authority: String
    private let tokens: APNsProviderTokenCache?
    private let requestTimeout: TimeAmount
    private let started = NIOLockedValueBox(false)

    /// A manager for `configuration`'s environment and credentials.
    init(configuration: APNsClientConfiguration, group: any EventLoopGroup, logger: Logger) throws {
        var poolConfiguration = configuration.poolConfiguration
        let (host, port) = configuration.environment.management
        poolConfiguration.host = host
        poolConfiguration.port = port
        poolConfiguration.connectionCount = 1
        poolConfiguration.maxQueued = Self.maxQueued
        self.authority = poolConfiguration.authority
        self.pool = try HTTP2ConnectionPool(configuration: poolConfiguration, group: group, logger: logger)
        if case .token(let cache) = configuration.authentication { self.tokens = cache } else { self.tokens = nil }
        self.requestTimeout = configuration.requestTimeout
    }

    /// The most management requests waiting for the connection.
    public static let maxQueued = 1024

    /// Sends one request and returns its result.
    public func send(_ request: APNsChannelRequest) async -> APNsChannelResult {
        let start = started.withLockedValue { started in
            defer { started = true }
            return !started
        }
        if start { pool.start() }
        return await withCheckedContinuation { continuation in
            let exchange = ChannelExchange(
                request: request, authority: authority, tokens: tokens, deadline: .now() + requestTimeout, pool: pool
            ) { continuation.resume(returning: $0) }
            pool.execute(exchange)
        }
    }

    func shutdown() async {
        await pool.shutdown(grace: .zero)
    }
}

extension APNsClientConfiguration.Environment {
    /// The channel management host and port: Apple's for production and sandbox, the endpoint itself for a
    /// custom one (the bundled mock serves both APIs).
    var management: (host: String, port: Int) {
        switch self {
        case .production: ("api-manage-broadcast.push.apple.com", 2196)
        case .sandbox: ("api-manage-broadcast.sandbox.push.apple.com", 2195)
        case .custom(let host, let port, _, _): (host, port)
        }
    }
}

extension APNsClient {
    /// The channel management client of this client's environment and credentials (made on first use).
    public var channelManager: APNsChannelManager {
        get throws {
            try managementBox.withLockedValue { box in
                if let manager = box { return manager }
                let manager = try APNsChannelManager(configuration: configuration, group: group, logger: logger)
                box = manager
                return manager
            }
        }
    }

    /// Sends a channel management request (see ``APNsChannelManager``).
    public func manageChannels(_ request: APNsChannelRequest) async -> APNsChannelResult {
        let result: APNsChannelResult
        if closing.load(ordering: .relaxed) {
            result = APNsChannelResult(source: .gateway, reason: GatewayReason.shutdown.rawValue, detail: "the gateway is shutting down")
        } else {
            do {
                result = try await channelManager.send(request)
            } catch {
                result = APNsChannelResult(source: .gateway, reason: GatewayReason.connectFailed.rawValue, detail: "\(error)")
            }
        }
        return result
    }
}

/// One management request in the pool. Ownership passes hand to hand, hence `@unchecked Sendable`.
final class ChannelExchange: HTTP2Exchange, @unchecked Sendable {
    let request: APNsChannelRequest
    let deadline: NIODeadline
    let requestBody: ByteBuffer
    private let authority: String
    private let tokens: APNsProviderTokenCache?
    private let pool: HTTP2ConnectionPool
    private let completion: @Sendable (APNsChannelResult) -> Void
    private var attempts = 0
    private var authorizationSent: String?

    init(
        request: APNsChannelRequest, authority: String, tokens: APNsProviderTokenCache?, deadline: NIODeadline,
        pool: HTTP2ConnectionPool, completion: @escaping @Sendable (APNsChannelResult) -> Void
    ) {
        self.request = request
        self.authority = authority
        self.tokens = tokens
        self.deadline = deadline
        self.pool = pool
        self.completion = completion
        if case .create(_, let policy) = request {
            var writer = JSONWriter(capacity: 64)
            writer.beginObject()
            writer.int("message-storage-policy", policy)
            writer.string("push-type", "LiveActivity")
            writer.endObject()
            self.requestBody = writer.buffer
        } else {
            self.requestBody = ByteBuffer()
        }
    }

    func writeHeaders(into writer: inout HTTP2HeaderWriter) {
        writer.add(":method", request.method)
        writer.add(":scheme", "https" as StaticString)
        writer.add(":authority", authority)
        writer.add(":path", request.path)
        if let tokens {
            let authorization = tokens.authorization()
            authorizationSent = authorization
            writer.add("authorization", authorization)
        }
        if let channelID = request.channelID {
            writer.add("apns-channel-id", channelID)
        }
        if case .create = request {
            writer.add("content-type", "application/json" as StaticString)
        }
    }

    func complete(_ result: Result<HTTP2Response, HTTP2Error>) {
        attempts += 1
        switch result {
        case .success(let response):
            var answer = APNsChannelResult(source: .apns, status: response.status, requestID: response.header("apns-request-id"))
            if (200...299).contains(response.status) {
                answer.channelID = response.header("apns-channel-id") ?? request.channelID
                if let body = response.body, body.readableBytes > 0, let object = try? JSONObject(parsing: body) {
                    answer.storagePolicy = object["message-storage-policy"]?.integer.map { Int($0) }
                    answer.channels = object["channels"]?.elements?.compactMap(\.string)
                }
            } else {
                let parsed = APNsResponse.parse(status: response.status, apnsID: nil, apnsUniqueID: nil, body: response.body)
                answer.reason = parsed.reason?.rawValue
                if parsed.disposition == .refreshTokenAndRetry, attempts == 1, let tokens, let sent = authorizationSent,
                    tokens.tokenRejected(sent)
                {
                    pool.execute(self, bypassingQueueLimit: true)
                    return
                }
            }
            completion(answer)
        case .failure(let error):
            let reason: GatewayReason
            switch error.kind {
            case .shutdown: reason = .shutdown
            case .queueFull: reason = .overloaded
            case .connectFailed: reason = .connectFailed
            case .deadlineExceeded: reason = .deadlineExceeded
            case .notSent:
                // It never reached APNs: safe to send again while the deadline allows.
                if NIODeadline.now() < deadline {
                    pool.execute(self, bypassingQueueLimit: true)
                    return
                }
                reason = .deadlineExceeded
            case .connectionLost, .streamReset, .protocolError:
                // It may have reached APNs: not sent again (a create could make a second channel).
                reason = .retriesExhausted
            }
            completion(APNsChannelResult(source: .gateway, reason: reason.rawValue, detail: error.detail))
        }
    }
}
