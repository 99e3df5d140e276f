import NIOCore

/// Scripted misbehaviour of the mock, to test how a client copes with a troubled APNs.
///
/// Counts marked *per connection* restart on every connection; counts marked *server-wide* run over
/// all connections together. A `nil` (the default everywhere) disables that fault.
public struct MockFaults: Sendable {
    /// Per connection: once this many streams were answered, send GOAWAY (last-stream-id = the last
    /// answered stream, error NO_ERROR) and close the connection when the streams at or below it are
    /// done. Streams above last-stream-id are not processed.
    public var goawayAfterStreams: Int?
    /// Per connection: when the N-th request has been received completely, close the TCP connection at
    /// once (no TLS close_notify, no GOAWAY). That request and any other unanswered one are lost.
    public var closeAfterStreams: Int?
    /// Server-wide: every N-th request is reset with RST_STREAM (INTERNAL_ERROR) instead of answered.
    public var resetStreamEvery: Int?
    /// Server-wide: every N-th request is answered with the given status instead of being validated.
    public var statusEvery: MockStatusFault?
    /// Every response (and reset) is delayed by this much.
    public var responseDelay: TimeAmount?
    /// Per connection: after N requests were received, the connection stalls completely: nothing more
    /// is answered, not even PING or SETTINGS, but the TCP connection stays open.
    public var stallAfterStreams: Int?
    /// Server-wide: only the first N connections the server accepts stall (``stallAfterStreams``); later
    /// ones answer normally, so a client that replaces a stalled connection recovers. `nil`: every connection.
    public var stallConnections: Int?

    /// Creates a fault set; every fault is off unless given.
    public init(
        goawayAfterStreams: Int? = nil,
        closeAfterStreams: Int? = nil,
        resetStreamEvery: Int? = nil,
        statusEvery: MockStatusFault? = nil,
        responseDelay: TimeAmount? = nil,
        stallAfterStreams: Int? = nil,
        stallConnections: Int? = nil
    ) {
        self.goawayAfterStreams = goawayAfterStreams
        self.closeAfterStreams = closeAfterStreams
        self.resetStreamEvery = resetStreamEvery
        self.statusEvery = statusEvery
        self.responseDelay = responseDelay
        self.stallAfterStreams = stallAfterStreams
        self.stallConnections = stallConnections
    }
}

/// Answer every `every`-th request (server-wide count) with `status` and its APNs reason.
public struct MockStatusFault: Sendable, Equatable {
    /// The period: 1 answers every request, 3 every third.
    public var every: Int
    /// The HTTP status: 429 (TooManyRequests), 500 (InternalServerError) or 503 (ServiceUnavailable);
    /// any other status is sent with the reason InternalServerError unless ``explicitReason`` says otherwise.
    public var status: Int

    /// The reason to send instead of the one ``status`` implies (any APNs reason, e.g. `ChannelNotRegistered`).
    public var explicitReason: String?

    /// Creates a status fault; `reason` overrides the reason the status implies.
    public init(every: Int, status: Int, reason: String? = nil) {
        self.every = every
        self.status = status
        self.explicitReason = reason
    }

    /// The APNs reason sent with ``status``: ``explicitReason``, or the status's own.
    public var reason: String {
        if let explicitReason { return explicitReason }
        switch self.status {
        case 429: return "TooManyRequests"
        case 503: return "ServiceUnavailable"
        default: return "InternalServerError"
        }
    }
}

extension MockFaults {
    /// Whether the request with the given server-wide sequence number (1-based) is reset.
    func resets(sequence: Int) -> Bool {
        guard let every = self.resetStreamEvery, every > 0 else { return false }
        return sequence % every == 0
    }

    /// Whether the connection with this id (1-based, in the order accepted) stalls after `stallAfterStreams`.
    func stalls(connectionID: Int) -> Bool {
        guard self.stallAfterStreams != nil else { return false }
        guard let connections = self.stallConnections else { return true }
        return connectionID <= connections
    }

    /// The status fault for the request with the given server-wide sequence number (1-based), if any.
    func statusFault(sequence: Int) -> MockStatusFault? {
        guard let fault = self.statusEvery, fault.every > 0 else { return nil }
        return sequence % fault.every == 0 ? fault : nil
    }
}
