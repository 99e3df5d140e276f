import NIOCore

/// One client connection's lifecycle as a value type: handshake, waiting for the server's SETTINGS, active,
/// draining, closed; plus the keep-alive, stall and connect-timeout decisions. No I/O, no clock of its own (every
/// time is passed in), so tests drive it directly. ``HTTP2ClientHandler`` owns one and carries out its actions.
///
/// Two rules send a PING. A connection that read nothing for ``HTTP2ConnectionConfiguration/pingInterval``
/// checks that the server is still there (the keep-alive). A connection with streams waiting for answers that
/// read nothing for ``HTTP2ConnectionConfiguration/stallTimeout`` (counted from the later of the last read and
/// the moment streams began to wait) probes for a stall: a live server answers a PING at once, however long its
/// answers to requests take. A PING sent while streams wait must be answered within the shorter of the two PING
/// timeouts, else the connection closes and its streams are re-routed by the pool.
struct HTTP2ConnectionStateMachine {
    enum State: Equatable {
        case handshaking
        case waitingForSettings
        case active(streamLimit: Int)
        case draining
        case closed
    }

    /// What the owner must do after an event.
    enum Action: Equatable {
        case none
        /// Create the HTTP/2 session and send the preface.
        case startSession
        /// The connection is usable: tell the pool, with this stream limit.
        case announceReady(streamLimit: Int)
        /// The server changed its stream limit.
        case updateStreamLimit(Int)
        /// Open no more streams; tell the pool so it opens a replacement.
        case announceGoingAway(HTTP2ConnectionEnd)
        /// Send a PING.
        case sendPing
        /// Send our GOAWAY and wait for open streams to finish.
        case startDraining
        /// Close the connection now, for this reason.
        case close(HTTP2ConnectionEnd)
    }

    private(set) var state = State.handshaking
    private let configuration: HTTP2ConnectionConfiguration
    private let openedAt: NIODeadline
    private var lastActivity: NIODeadline
    private var pingSentAt: NIODeadline?
    /// How long the PING in flight may go unanswered: fixed when it is sent.
    private var pingTimeout: TimeAmount
    /// Whether the PING in flight was sent while streams waited for answers.
    private var pingWhileStreamsWaited = false
    /// When the open streams began to wait, as seen by the tick; nil while none is open.
    private var streamsWaitingSince: NIODeadline?
    private(set) var endReason: HTTP2ConnectionEnd?

    init(configuration: HTTP2ConnectionConfiguration, now: NIODeadline) {
        self.configuration = configuration
        self.openedAt = now
        self.lastActivity = now
        self.pingTimeout = configuration.pingTimeout
    }

    /// How many more streams may be opened now, given `openStreams`.
    func freeStreams(openStreams: Int) -> Int {
        if case .active(let limit) = state { return max(0, limit - openStreams) }
        return 0
    }

    var isClosed: Bool { state == .closed }

    // MARK: Events

    /// The TLS handshake finished; `alpn` is the protocol the server chose.
    mutating func handshakeCompleted(alpn: String?) -> Action {
        guard state == .handshaking else { return .none }
        guard alpn == "h2" else {
            let chosen = alpn.map { "the server chose \($0)" } ?? "the server chose no protocol"
            return close(.tls(.alpnNotNegotiated("\(chosen); APNs requires HTTP/2")))
        }
        state = .waitingForSettings
        return .startSession
    }

    /// A SETTINGS frame arrived with this SETTINGS_MAX_CONCURRENT_STREAMS.
    mutating func settingsReceived(maxConcurrentStreams: Int) -> Action {
        let limit = min(maxConcurrentStreams, configuration.maxConcurrentStreams)
        switch state {
        case .waitingForSettings:
            state = .active(streamLimit: limit)
            return .announceReady(streamLimit: limit)
        case .active(let old) where old != limit:
            state = .active(streamLimit: limit)
            return .updateStreamLimit(limit)
        default:
            return .none
        }
    }

    /// The server sent GOAWAY.
    mutating func goAwayReceived(errorCode: UInt32, debugData: String) -> Action {
        switch state {
        case .waitingForSettings, .active:
            let reason = HTTP2ConnectionEnd.goAway(errorCode: errorCode, debugData: debugData)
            state = .draining
            endReason = reason
            return .announceGoingAway(reason)
        default:
            return .none
        }
    }

    /// No more streams can be opened here (stream ids exhausted).
    mutating func streamsExhausted() -> Action {
        guard case .active = state else { return .none }
        let reason = HTTP2ConnectionEnd.protocolError("no more streams can be opened on this connection")
        state = .draining
        endReason = reason
        return .announceGoingAway(reason)
    }

    /// The pool asks the connection to finish what it has and close.
    mutating func drainRequested() -> Action {
        switch state {
        case .handshaking, .waitingForSettings:
            return close(.closedLocally)
        case .active:
            state = .draining
            endReason = .closedLocally
            return .startDraining
        case .draining, .closed:
            return .none
        }
    }

    /// Bytes arrived from the server.
    mutating func bytesReceived(now: NIODeadline) {
        lastActivity = now
    }

    /// The server acknowledged our PING.
    mutating func pingAcknowledged() {
        pingSentAt = nil
    }

    /// The periodic tick: connect timeout, keep-alive and stall PINGs and their timeout, and the end of a drain.
    mutating func tick(now: NIODeadline, openStreams: Int) -> Action {
        switch state {
        case .handshaking, .waitingForSettings:
            if now - openedAt > configuration.connectTimeout {
                return close(.timeout("no HTTP/2 SETTINGS from the server within \(configuration.connectTimeout)"))
            }
            return .none
        case .closed:
            return .none
        case .active, .draining:
            break
        }
        if openStreams == 0 {
            streamsWaitingSince = nil
        } else if streamsWaitingSince == nil {
            streamsWaitingSince = now
        }
        if let pingSentAt {
            if now - pingSentAt > pingTimeout {
                let what = pingWhileStreamsWaited ? " while streams waited for answers" : ""
                return close(.timeout("no PING acknowledgement within \(pingTimeout)\(what)"))
            }
        } else if isStalled(now: now) || now - lastActivity > configuration.pingInterval {
            pingSentAt = now
            pingWhileStreamsWaited = openStreams > 0
            pingTimeout = openStreams > 0
                ? min(configuration.pingTimeout, configuration.stallPingTimeout) : configuration.pingTimeout
            return .sendPing
        }
        return streamsChanged(openStreams: openStreams)
    }

    /// Whether streams wait and nothing was read for the stall timeout since they began to wait (or since the
    /// last read, when later).
    private func isStalled(now: NIODeadline) -> Bool {
        guard let streamsWaitingSince else { return false }
        return now - max(lastActivity, streamsWaitingSince) > configuration.stallTimeout
    }

    /// Streams closed: a draining connection with none left closes.
    mutating func streamsChanged(openStreams: Int) -> Action {
        if state == .draining && openStreams == 0 {
            return close(endReason ?? .closedLocally)
        }
        return .none
    }

    /// The transport or TLS failed, or the peer closed.
    mutating func failed(_ reason: HTTP2ConnectionEnd) -> Action {
        close(reason)
    }

    private mutating func close(_ reason: HTTP2ConnectionEnd) -> Action {
        guard state != .closed else { return .none }
        state = .closed
        let final = endReason ?? reason
        endReason = final
        return .close(final)
    }
}
