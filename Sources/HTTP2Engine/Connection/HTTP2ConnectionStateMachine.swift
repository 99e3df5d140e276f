import NIOCore

/// One client connection's lifecycle as a value type: handshake, waiting for the server's SETTINGS, active,
/// draining, closed; plus the keep-alive and connect-timeout decisions. No I/O, no clock of its own (every
/// time is passed in), so tests drive it directly. ``HTTP2ClientHandler`` owns one and carries out its actions.
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
    private(set) var endReason: HTTP2ConnectionEnd?

    init(configuration: HTTP2ConnectionConfiguration, now: NIODeadline) {
        self.configuration = configuration
        self.openedAt = now
        self.lastActivity = now
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

    /// The periodic tick: connect timeout, keep-alive PING and its timeout, and the end of a drain.
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
        if let pingSentAt {
            if now - pingSentAt > configuration.pingTimeout {
                return close(.timeout("no PING acknowledgement within \(configuration.pingTimeout)"))
            }
        } else if now - lastActivity > configuration.pingInterval {
            pingSentAt = now
            return .sendPing
        }
        return streamsChanged(openStreams: openStreams)
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
