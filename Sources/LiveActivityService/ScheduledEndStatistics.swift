import NIOConcurrencyHelpers

/// How many claimed scheduled ends the service settled, by app and outcome since it started: what the gateway
/// exports as `apns_gateway_scheduled_ends_total` (docs/operations.md).
public struct ScheduledEndStatistics: Sendable, Hashable {
    /// What became of a claimed end.
    public enum Outcome: String, Sendable, Hashable, CaseIterable {
        /// Delivered to at least one device (or there was no device to deliver to): state `done`.
        case done
        /// Refused for every token, or not sendable at all: state `failed`, with the reason stored.
        case failed
        /// No answer from APNs: returned to `pending` for a later attempt (one count per attempt).
        case deferred
        /// Claimed after another gateway's lease on it ran out (PostgreSQL store): that gateway may have sent it
        /// before it died, so devices may get this end twice (``LiveActivity/ScheduledEnd/possiblySent``). Counted
        /// when claimed, besides the end's own outcome.
        case takenOver = "taken_over"
    }

    /// One series: the app's configured name (its bundle ID when no configured app has it) and the outcome.
    public struct Key: Sendable, Hashable {
        public var app: String
        public var outcome: Outcome

        public init(app: String, outcome: Outcome) {
            self.app = app
            self.outcome = outcome
        }
    }

    /// The counts; a series that never moved is absent.
    public var counts: [Key: Int] = [:]

    /// Creates empty statistics.
    public init() {}

    /// The count of an outcome for one app, or summed over every app when `app` is `nil`.
    public func count(_ outcome: Outcome, app: String? = nil) -> Int {
        counts.reduce(0) { sum, entry in
            entry.key.outcome == outcome && (app == nil || entry.key.app == app) ? sum + entry.value : sum
        }
    }
}

/// The service's running counts; settling an end is rare (a lock per end is nothing next to its pushes).
final class ScheduledEndCounter: Sendable {
    private let statistics = NIOLockedValueBox(ScheduledEndStatistics())

    func count(_ outcome: ScheduledEndStatistics.Outcome, app: String) {
        statistics.withLockedValue { $0.counts[ScheduledEndStatistics.Key(app: app, outcome: outcome), default: 0] += 1 }
    }

    var snapshot: ScheduledEndStatistics {
        statistics.withLockedValue { $0 }
    }
}
