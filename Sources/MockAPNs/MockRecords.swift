/// One request the mock received, with what it answered.
public struct MockReceivedRequest: Sendable {
    /// The connection it came on, numbered from 1 in accept order.
    public var connectionID: Int
    /// Its HTTP/2 stream id.
    public var streamID: Int
    /// `:method`.
    public var method: String
    /// `:path`.
    public var path: String
    /// The device token taken from the path (empty when the path has none).
    public var deviceToken: String
    /// The regular headers, lowercased names, pseudo headers left out; when a header was sent more
    /// than once, the values are joined with `,`.
    public var headers: [String: String]
    /// The body as received (empty when ``MockAPNsConfiguration/recordBodies`` is off; capped at
    /// 8 KiB, enough to tell a too-large payload).
    public var body: [UInt8]
    /// The `:status` answered; `nil` when the stream was reset or never answered (a fault).
    public var responseStatus: Int?
    /// The `reason` in the error body; `nil` for 200 and unanswered streams.
    public var reason: String?
    /// The `apns-id` answered: the request's own (lowercased), or one generated.
    public var apnsID: String
    /// Whether the stream was reset (RST_STREAM) instead of answered.
    public var wasReset: Bool

    /// Creates a record.
    public init(
        connectionID: Int,
        streamID: Int,
        method: String,
        path: String,
        deviceToken: String,
        headers: [String: String],
        body: [UInt8],
        responseStatus: Int?,
        reason: String?,
        apnsID: String,
        wasReset: Bool = false
    ) {
        self.connectionID = connectionID
        self.streamID = streamID
        self.method = method
        self.path = path
        self.deviceToken = deviceToken
        self.headers = headers
        self.body = body
        self.responseStatus = responseStatus
        self.reason = reason
        self.apnsID = apnsID
        self.wasReset = wasReset
    }
}

/// Counters over the server's whole life (``MockAPNsServer/resetRecord()`` clears them too).
public struct MockStats: Sendable, Equatable {
    /// TCP connections accepted.
    public var connectionsAccepted: Int = 0
    /// Requests received completely (their END_STREAM arrived).
    public var streamsReceived: Int = 0
    /// The most streams open at the same time on one connection.
    public var maxConcurrentStreamsObserved: Int = 0
    /// Streams opened while the connection already had as many open as the limit it advertised and
    /// the client had acknowledged (including those the HTTP/2 layer refused by itself).
    public var streamLimitViolations: Int = 0
    /// Responses sent, by `:status`.
    public var responsesByStatus: [Int: Int] = [:]
    /// Streams reset by the ``MockFaults/resetStreamEvery`` fault.
    public var streamsReset: Int = 0
    /// GOAWAY frames sent.
    public var goawaysSent: Int = 0
    /// Requests not kept in ``MockAPNsServer/received`` because
    /// ``MockAPNsConfiguration/maxRecordedRequests`` was reached.
    public var recordsDropped: Int = 0
    /// Requests whose provider token verified and was accepted, by the token's key id (`kid`): which signing
    /// keys a client used, for key-rotation tests.
    public var acceptedByKeyID: [String: Int] = [:]

    /// Creates empty stats.
    public init() {}
}
