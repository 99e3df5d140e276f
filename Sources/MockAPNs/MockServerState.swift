import NIOConcurrencyHelpers
import NIOCore

/// The state all connections of one server share: live faults, the server-wide stream count, the
/// recorder, the stats and the open child channels.
///
/// Maintainer's note: this is the only state touched from several event loops, and all of it sits
/// behind one lock. Connections take it at most twice per read batch (``beginBatch(count:)`` and
/// ``commit(_:)``), never per request, so the lock stays cold even at 100k+ requests per second.
final class MockServerState: Sendable {
    private struct State {
        var faults: MockFaults
        var sequence = 0
        var nextConnectionID = 1
        var received: [MockReceivedRequest] = []
        var stats = MockStats()
        var channels: [ObjectIdentifier: any Channel] = [:]
    }

    private let box: NIOLockedValueBox<State>
    private let maxRecords: Int

    init(faults: MockFaults, maxRecords: Int) {
        self.box = NIOLockedValueBox(State(faults: faults))
        self.maxRecords = max(0, maxRecords)
    }

    var faults: MockFaults {
        get { self.box.withLockedValue { $0.faults } }
        set { self.box.withLockedValue { $0.faults = newValue } }
    }

    var received: [MockReceivedRequest] {
        self.box.withLockedValue { $0.received }
    }

    var stats: MockStats {
        self.box.withLockedValue { $0.stats }
    }

    func reset() {
        self.box.withLockedValue {
            $0.received.removeAll()
            $0.stats = MockStats()
        }
    }

    /// Registers an accepted connection; returns its id.
    func connectionOpened(_ channel: any Channel) -> Int {
        self.box.withLockedValue { state in
            state.stats.connectionsAccepted += 1
            state.channels[ObjectIdentifier(channel)] = channel
            let id = state.nextConnectionID
            state.nextConnectionID += 1
            return id
        }
    }

    func connectionClosed(_ channel: any Channel) {
        self.box.withLockedValue {
            _ = $0.channels.removeValue(forKey: ObjectIdentifier(channel))
        }
    }

    /// The channels still open, for shutdown.
    func openChannels() -> [any Channel] {
        self.box.withLockedValue { Array($0.channels.values) }
    }

    /// Starts processing `count` completed requests: reserves their server-wide sequence numbers
    /// (the first is returned) and hands out the faults in force.
    func beginBatch(count: Int) -> (faults: MockFaults, firstSequence: Int) {
        self.box.withLockedValue {
            let first = $0.sequence + 1
            $0.sequence += count
            $0.stats.streamsReceived += count
            return ($0.faults, first)
        }
    }

    /// Publishes what a connection did since its last commit; its record-file lines go to `file`.
    func commit(_ batch: inout BatchReport, file: MockRecordFile? = nil) {
        guard !batch.isEmpty else { return }
        if let file, !batch.recordLines.isEmpty {
            file.append(batch.recordLines)
        }
        self.box.withLockedValue {
            let room = self.maxRecords - $0.received.count
            if batch.records.count <= room {
                $0.received.append(contentsOf: batch.records)
            } else {
                $0.received.append(contentsOf: batch.records.prefix(max(0, room)))
                $0.stats.recordsDropped += batch.records.count - max(0, room)
            }
            for (status, count) in batch.statusCounts {
                $0.stats.responsesByStatus[status, default: 0] += count
            }
            for (keyID, count) in batch.keyIDCounts {
                $0.stats.acceptedByKeyID[keyID, default: 0] += count
            }
            $0.stats.maxConcurrentStreamsObserved = max(
                $0.stats.maxConcurrentStreamsObserved,
                batch.maxConcurrentStreams
            )
            $0.stats.streamLimitViolations += batch.streamLimitViolations
            $0.stats.streamsReset += batch.resets
            $0.stats.goawaysSent += batch.goaways
        }
        batch.clear()
    }
}

/// What one connection accumulates between two commits to ``MockServerState``.
struct BatchReport {
    var records: [MockReceivedRequest] = []
    var statusCounts: [(status: Int, count: Int)] = []
    var maxConcurrentStreams = 0
    var streamLimitViolations = 0
    var resets = 0
    var goaways = 0
    var keyIDCounts: [(keyID: String, count: Int)] = []
    /// Lines for ``MockRecordFile``, written by the next commit.
    var recordLines: [UInt8] = []
    private var dirty = false

    var isEmpty: Bool { !self.dirty }

    mutating func countResponse(status: Int) {
        self.dirty = true
        for index in self.statusCounts.indices where self.statusCounts[index].status == status {
            self.statusCounts[index].count += 1
            return
        }
        self.statusCounts.append((status, 1))
    }

    mutating func countAccepted(keyID: String) {
        self.dirty = true
        for index in self.keyIDCounts.indices where self.keyIDCounts[index].keyID == keyID {
            self.keyIDCounts[index].count += 1
            return
        }
        self.keyIDCounts.append((keyID, 1))
    }

    mutating func record(_ request: MockReceivedRequest) {
        self.dirty = true
        self.records.append(request)
    }

    mutating func observeConcurrentStreams(_ count: Int) {
        if count > self.maxConcurrentStreams {
            self.maxConcurrentStreams = count
            self.dirty = true
        }
    }

    mutating func recordLine(
        milliseconds: Int64, apnsID: String, outcome: String, connectionID: Int, deviceToken: Substring? = nil
    ) {
        self.dirty = true
        MockRecordFile.line(
            into: &self.recordLines, milliseconds: milliseconds, apnsID: apnsID, outcome: outcome,
            connectionID: connectionID, deviceToken: deviceToken)
    }

    mutating func countViolation() {
        self.dirty = true
        self.streamLimitViolations += 1
    }

    mutating func countReset() {
        self.dirty = true
        self.resets += 1
    }

    mutating func countGoaway() {
        self.dirty = true
        self.goaways += 1
    }

    mutating func clear() {
        self.records.removeAll(keepingCapacity: true)
        self.statusCounts.removeAll(keepingCapacity: true)
        self.keyIDCounts.removeAll(keepingCapacity: true)
        self.streamLimitViolations = 0
        self.resets = 0
        self.goaways = 0
        self.recordLines.removeAll(keepingCapacity: true)
        self.dirty = false
        // maxConcurrentStreams stays: it is a running maximum for the connection.
    }
}
