import LiveActivity
import Logging

/// When the scheduler last counted scheduled ends and pruned ended activities (epoch seconds).
struct HousekeepingTimes: Sendable {
    var counted: Int64?
    var pruned: Int64?
}

extension LiveActivityService {
    /// How often the scheduler counts the registry's scheduled ends by state for the metrics, in seconds.
    public static let countInterval: Int64 = 10
    /// How often the scheduler prunes ended activities, in seconds.
    public static let pruneInterval: Int64 = 60
    /// Ended activities removed per registry transaction while pruning (short transactions keep other writers
    /// waiting briefly).
    static let pruneBatch = 500

    /// Counts and prunes when their intervals have passed; the scheduler calls this after every pass.
    func housekeepIfDue() async {
        let now = clock()
        let (count, prune) = housekeepingTimes.withLockedValue { times -> (Bool, Bool) in
            let count = times.counted.map { now - $0 >= Self.countInterval || now < $0 } ?? true
            let prune = times.pruned.map { now - $0 >= Self.pruneInterval || now < $0 } ?? true
            if count { times.counted = now }
            if prune { times.pruned = now }
            return (count, prune)
        }
        if prune { _ = await pruneEndedActivities() }
        if count { await refreshScheduledEndCounts() }
    }

    /// Counts the registry's scheduled ends by app and state for the metrics (``statistics``).
    public func refreshScheduledEndCounts() async {
        do {
            let counts = try await withRegistry { try $0.scheduledEndCounts() }
            metrics.setScheduledEndCounts(
                counts.map { (app: appName(forBundleID: $0.app), state: $0.state, count: $0.count) }, apps: Array(apps.byName.keys))
        } catch {
            logger.error("cannot count scheduled ends", metadata: ["error": "\(error)"])
        }
    }

    /// Removes the activities that ended more than ``LiveActivityServiceConfiguration/endedRetentionSeconds`` ago
    /// and their update tokens; returns how many were removed.
    @discardableResult
    public func pruneEndedActivities() async -> PrunedActivities {
        let cutoff = clock() - configuration.endedRetentionSeconds
        var total = PrunedActivities(activities: 0, tokens: 0)
        while true {
            let pruned: PrunedActivities
            do {
                pruned = try await withRegistry { try $0.pruneEndedActivities(endedAtOrBefore: cutoff, limit: Self.pruneBatch) }
            } catch {
                logger.error("cannot prune ended activities", metadata: ["error": "\(error)"])
                break
            }
            total.activities += pruned.activities
            total.tokens += pruned.tokens
            if pruned.activities < Self.pruneBatch { break }
        }
        if total.activities > 0 {
            metrics.pruned(total)
            logger.info("ended activities pruned", metadata: [
                "activities": "\(total.activities)", "tokens": "\(total.tokens)",
                "retentionSeconds": "\(configuration.endedRetentionSeconds)",
            ])
        }
        return total
    }
}
