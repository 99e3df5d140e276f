import NIOCore

/// The connection pool's bookkeeping as a value type: no I/O, no clock, no locks.
///
/// Each event returns what its owner must do. The owner changes the state under its lock and carries out the
/// actions after releasing it (the pattern of async-http-client's pool).
///
/// Slots are the configured connections. A slot holds at most one *current* connection; a connection that got
/// GOAWAY keeps draining on its own while the slot opens a replacement.
struct ConnectionPoolStateMachine {
    struct Configuration: Hashable {
        var connectionCount: Int
        /// The most exchanges that wait for a free stream.
        var maxQueued: Int
        /// Initial connects are spread over this many milliseconds per slot.
        var staggerMilliseconds: Int64
        var reconnectInitialMilliseconds: Int64
        var reconnectMaxMilliseconds: Int64
    }

    enum SlotState: Hashable {
        case idle
        case connecting
        case ready
        case backingOff
    }

    struct Slot: Hashable {
        var connectionID: Int?
        var state: SlotState
        var consecutiveFailures: Int
        /// The slot's connection found the queue empty and waits for a wake-up.
        var waitingForWork: Bool
        /// The slot's connection took its share of a burst and left the rest to the others: what is still
        /// queued when it comes back, they did not take, and it takes all it can.
        var leftTheRest = false
    }

    /// What the owner must do.
    struct Actions {
        /// Open connection `connectionID` for `slot` after `delay`.
        var connect: [(slot: Int, connectionID: Int, delay: TimeAmount)] = []
        /// Wake these connections: work is queued for them.
        var wake: [Int] = []
        /// Answer these exchanges with this error.
        var fail: [(any HTTP2Exchange, HTTP2Error)] = []
        /// Ask these connections to drain and close.
        var drain: [Int] = []

        var isEmpty: Bool { connect.isEmpty && wake.isEmpty && fail.isEmpty && drain.isEmpty }
    }

    enum EnqueueResult {
        case accepted(wake: [Int])
        case rejected(HTTP2Error)
    }

    private(set) var slots: [Slot]
    private(set) var queue = CircularBuffer<any HTTP2Exchange>()
    /// Connections that got GOAWAY and still finish their streams.
    private(set) var draining: Set<Int> = []
    private(set) var isShuttingDown = false
    private(set) var lastConnectionError: HTTP2ConnectionEnd?
    private var nextConnectionID = 1
    let configuration: Configuration

    init(configuration: Configuration) {
        precondition(configuration.connectionCount > 0 && configuration.maxQueued > 0)
        self.configuration = configuration
        self.slots = Array(
            repeating: Slot(connectionID: nil, state: .idle, consecutiveFailures: 0, waitingForWork: false),
            count: configuration.connectionCount
        )
        queue.reserveCapacity(min(configuration.maxQueued, 65_536))
    }

    var queuedCount: Int { queue.count }
    var readyCount: Int { slots.reduce(0) { $0 + ($1.state == .ready ? 1 : 0) } }
    var spaceInQueue: Int { configuration.maxQueued - queue.count }

    // MARK: Events

    /// Opens every slot's first connection, staggered.
    mutating func start() -> Actions {
        var actions = Actions()
        for index in slots.indices where slots[index].state == .idle {
            let delay = TimeAmount.milliseconds(configuration.staggerMilliseconds * Int64(index))
            actions.connect.append(openConnection(slot: index, delay: delay))
        }
        return actions
    }

    /// Queues one exchange, or says why it cannot be.
    /// A retry (`bypassingLimit`) was counted against the bound when first queued, so it is always taken.
    mutating func enqueue(_ exchange: any HTTP2Exchange, bypassingLimit: Bool = false) -> EnqueueResult {
        if isShuttingDown { return .rejected(.shutdown) }
        guard bypassingLimit || queue.count < configuration.maxQueued else { return .rejected(.queueFull) }
        queue.append(exchange)
        return .accepted(wake: takeWaitingConnections())
    }

    /// Moves up to `max` exchanges to a connection: its fair share of the queue, so a burst spreads over every
    /// ready connection. A connection that finds nothing waits for a wake-up.
    ///
    /// Returns `true` when the share, not `max`, stopped it and work is left: the connection must come back for
    /// more once it has sent what it took. Nothing else would: the others may be busy, and the enqueues that woke
    /// it may be over, so what it left would wait for the next answer to arrive. When it comes back, what the
    /// others have not taken meanwhile is its to take, up to `max` (not half again: 65, 33, 16, …).
    mutating func dequeue(for connectionID: Int, max: Int, into batch: inout [any HTTP2Exchange]) -> Bool {
        guard let index = slotIndex(of: connectionID), slots[index].state == .ready, max > 0 else { return false }
        if queue.isEmpty {
            slots[index].waitingForWork = true
            slots[index].leftTheRest = false
            return false
        }
        let ready = Swift.max(1, readyCount)
        let share = slots[index].leftTheRest ? queue.count : (queue.count + ready - 1) / ready
        let count = Swift.min(max, share)
        for _ in 0..<count {
            batch.append(queue.removeFirst())
        }
        slots[index].waitingForWork = queue.isEmpty
        slots[index].leftTheRest = count < max && !queue.isEmpty
        return slots[index].leftTheRest
    }

    /// A delayed connect begins.
    mutating func connectionAttemptStarted(_ connectionID: Int) {
        if let index = slotIndex(of: connectionID), slots[index].state == .backingOff {
            slots[index].state = .connecting
        }
    }

    /// A connection finished its handshake and got the server's SETTINGS.
    mutating func connectionReady(_ connectionID: Int) -> Actions {
        var actions = Actions()
        guard let index = slotIndex(of: connectionID) else {
            // Ready after the pool gave up on it (shutdown): close it.
            actions.drain.append(connectionID)
            return actions
        }
        slots[index].state = .ready
        slots[index].consecutiveFailures = 0
        slots[index].waitingForWork = false
        slots[index].leftTheRest = false
        lastConnectionError = nil
        if isShuttingDown { actions.drain.append(connectionID) }
        return actions
    }

    /// A connection will open no more streams: the slot opens a replacement at once.
    mutating func connectionGoingAway(_ connectionID: Int, random: Double) -> Actions {
        var actions = Actions()
        guard let index = slotIndex(of: connectionID) else { return actions }
        draining.insert(connectionID)
        slots[index].connectionID = nil
        slots[index].state = .idle
        slots[index].waitingForWork = false
        if !isShuttingDown {
            // A short jitter so that a server-wide GOAWAY does not make every slot reconnect in the same instant.
            let jitter = TimeAmount.milliseconds(Int64(random * Double(configuration.staggerMilliseconds)))
            actions.connect.append(openConnection(slot: index, delay: jitter))
        }
        return actions
    }

    /// A connection is gone (or gave back refused streams while staying open). `unsent` go back to the front
    /// of the queue, in their order.
    mutating func connectionClosed(
        _ connectionID: Int,
        reason: HTTP2ConnectionEnd,
        unsent: [any HTTP2Exchange],
        stillOpen: Bool,
        random: Double
    ) -> Actions {
        var actions = Actions()
        if isShuttingDown {
            actions.fail.append(contentsOf: unsent.map { ($0, HTTP2Error.shutdown) })
        } else {
            for exchange in unsent.reversed() {
                queue.prepend(exchange)
            }
        }
        if stillOpen {
            actions.wake = takeWaitingConnections()
            if let index = slotIndex(of: connectionID), slots[index].state == .ready, !unsent.isEmpty {
                actions.wake.append(connectionID)
            }
            return actions
        }
        draining.remove(connectionID)
        if let index = slotIndex(of: connectionID) {
            let wasReady = slots[index].state == .ready
            slots[index].connectionID = nil
            slots[index].waitingForWork = false
            if !wasReady {
                slots[index].consecutiveFailures += 1
                lastConnectionError = reason
            }
            if isShuttingDown {
                slots[index].state = .idle
            } else {
                slots[index].state = .backingOff
                let delay = wasReady ? TimeAmount.zero : reconnectDelay(failures: slots[index].consecutiveFailures, random: random)
                actions.connect.append(openConnection(slot: index, delay: delay))
            }
            // When nothing can connect and the reason will not go away by itself, say so now rather than at
            // every exchange's deadline.
            if !wasReady, reason.isFatal, readyCount == 0 {
                let error = HTTP2Error.connectFailed(reason)
                while let exchange = queue.popFirst() {
                    actions.fail.append((exchange, error))
                }
            }
        }
        actions.wake.append(contentsOf: takeWaitingConnections())
        return actions
    }

    /// Removes the queued exchanges whose deadline has passed.
    ///
    /// Deadlines mostly grow from the front of the queue to the back (one timeout per client, retries go to the
    /// front), so a quick pass (`fullScan == false`) only looks at the front; the owner runs a full scan now and
    /// then for exchanges with their own, shorter deadlines.
    mutating func expireQueued(now: NIODeadline, fullScan: Bool = true) -> Actions {
        var actions = Actions()
        if !fullScan {
            guard let first = queue.first, first.deadline <= now else { return actions }
        }
        guard queue.contains(where: { $0.deadline <= now }) else { return actions }
        var kept = CircularBuffer<any HTTP2Exchange>(initialCapacity: queue.count)
        let detail = lastConnectionError.map { "deadline exceeded while waiting for a connection (\($0))" }
        let error = detail.map { HTTP2Error.notSent($0) }
        while let exchange = queue.popFirst() {
            if exchange.deadline <= now {
                actions.fail.append((exchange, readyCount == 0 ? (error ?? .deadlineExceeded) : .deadlineExceeded))
            } else {
                kept.append(exchange)
            }
        }
        queue = kept
        return actions
    }

    /// Stops accepting, fails what is queued, and asks every connection to drain.
    mutating func shutdown() -> Actions {
        var actions = Actions()
        isShuttingDown = true
        while let exchange = queue.popFirst() {
            actions.fail.append((exchange, .shutdown))
        }
        for index in slots.indices {
            if let id = slots[index].connectionID {
                actions.drain.append(id)
            }
        }
        actions.drain.append(contentsOf: draining)
        return actions
    }

    // MARK: Helpers

    private mutating func openConnection(slot index: Int, delay: TimeAmount) -> (slot: Int, connectionID: Int, delay: TimeAmount) {
        let id = nextConnectionID
        nextConnectionID += 1
        slots[index].connectionID = id
        slots[index].state = delay > .zero ? .backingOff : .connecting
        slots[index].waitingForWork = false
        return (index, id, delay)
    }

    private mutating func takeWaitingConnections() -> [Int] {
        var ids: [Int] = []
        for index in slots.indices where slots[index].waitingForWork {
            slots[index].waitingForWork = false
            if let id = slots[index].connectionID { ids.append(id) }
        }
        return ids
    }

    private func slotIndex(of connectionID: Int) -> Int? {
        slots.firstIndex { $0.connectionID == connectionID }
    }

    /// Exponential back-off with full jitter: a delay in [base/2, base], base doubling per failure up to the cap.
    func reconnectDelay(failures: Int, random: Double) -> TimeAmount {
        let exponent = Swift.min(Swift.max(failures - 1, 0), 20)
        let base = Swift.min(configuration.reconnectMaxMilliseconds, configuration.reconnectInitialMilliseconds << exponent)
        let jittered = Double(base) * (0.5 + 0.5 * random)
        return .milliseconds(Int64(jittered))
    }

    /// Connection counts by state, for statistics.
    var connectionStates: (connecting: Int, ready: Int, backingOff: Int, draining: Int) {
        var result = (connecting: 0, ready: 0, backingOff: 0, draining: draining.count)
        for slot in slots {
            switch slot.state {
            case .connecting: result.connecting += 1
            case .ready: result.ready += 1
            case .backingOff: result.backingOff += 1
            case .idle: break
            }
        }
        return result
    }
}
