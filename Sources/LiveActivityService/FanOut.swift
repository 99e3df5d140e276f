import APNs
import APNsCore
import LiveActivity
import NIOConcurrencyHelpers
import JSON
import NIOCore

/// One token a push goes to, with what the reply shows about it.
struct PushTarget: Sendable {
    /// Lowercased hex.
    var token: String
    /// The registry's app (bundle ID) for registered tokens; explicit tokens take the request's app.
    var bundleID: String
    var environment: TokenEnvironment?
    var deviceID: String?
    var userID: String?
    /// Set for pushes to a stream, whose results span several activities.
    var activityID: String?
    /// The activity an update token belongs to (whether or not the reply shows it): for the priority budget and
    /// for recording that an activity ended.
    var activity: String?
    /// Registered tokens APNs reported dead are listed, not sent.
    var isDead = false
    var deadReason: String?
}

/// What happened to one target.
struct TargetOutcome: Sendable {
    var target: PushTarget
    /// The APNs client's result, when the push was handed to a client.
    var result: APNsResult?
    /// Why it was not sent; nil when it was handed to a client.
    var skipped: SkipReason?
    /// Whether this push's answer retired the token in the registry.
    var retired = false
}

/// Why a target was not sent, as the reply's `"skipped"` shows it.
enum SkipReason: String, Sendable {
    /// APNs reported the registered token dead (`skippedDead`).
    case dead = "Dead"
    /// The token is for the other APNs environment than its app's client reaches (`skippedOther`).
    case otherEnvironment = "OtherEnvironment"
    /// The token's activity has ended: an update to a stream skips it (`skippedOther`).
    case activityEnded = "ActivityEnded"
    /// No configured app has the token's bundle ID (`skippedOther`).
    case unknownApp = "UnknownApp"
}

/// The outcome of one push to many tokens, written as `"counts":{...},"results":[...]`.
struct FanOutReport: Sendable {
    var outcomes: [TargetOutcome]

    var sent: Int { outcomes.count { $0.result != nil } }
    var succeeded: Int { outcomes.count { $0.result?.status == 200 } }
    var skippedDead: Int { outcomes.count { $0.skipped == .dead } }
    var skippedOther: Int { outcomes.count { $0.skipped != nil && $0.skipped != .dead } }
    var retired: Int { outcomes.count { $0.retired } }
    /// True when something was to be sent and none of it got an answer from APNs (no connection, shutdown).
    var noAnswerFromAPNs: Bool {
        let sent = outcomes.filter { $0.result != nil }
        return !sent.isEmpty && sent.allSatisfy { $0.result?.source == .gateway }
    }

    func write(into writer: inout JSONWriter) {
        let sent = self.sent
        let succeeded = self.succeeded
        writer.beginObject("counts")
        writer.int("tokens", outcomes.count)
        writer.int("sent", sent)
        writer.int("succeeded", succeeded)
        writer.int("failed", sent - succeeded)
        writer.int("skippedDead", skippedDead)
        writer.int("skippedOther", skippedOther)
        writer.int("retired", retired)
        writer.endObject()
        writer.beginArray("results")
        for outcome in outcomes {
            writer.beginObject()
            writer.string("token", redacted(outcome.target.token))
            if let activityID = outcome.target.activityID { writer.string("activityId", activityID) }
            if let deviceID = outcome.target.deviceID { writer.string("deviceId", deviceID) }
            if let userID = outcome.target.userID { writer.string("userId", userID) }
            if let result = outcome.result {
                if let status = result.status { writer.int("status", status) }
                if let reason = result.reason { writer.string("reason", reason) }
                if let apnsID = result.apnsID { writer.string("apnsId", apnsID) }
                if let timestamp = result.timestamp { writer.int("timestamp", timestamp) }
                writer.string("source", result.source.rawValue)
                if let detail = result.detail { writer.string("detail", detail) }
                if result.retriedAfterUnknownOutcome { writer.bool("maybeDuplicate", true) }
                if outcome.retired { writer.bool("retired", true) }
            } else if let skipped = outcome.skipped {
                writer.string("skipped", skipped.rawValue)
                if let reason = outcome.target.deadReason { writer.string("deadReason", reason) }
            }
            writer.endObject()
        }
        writer.endArray()
    }
}

/// The first 8 characters of a token and `…`: enough to recognise it, never the whole token.
func redacted(_ token: String) -> String {
    token.utf8.count > 8 ? String(token.prefix(8)) + "…" : token
}

extension LiveActivityService {
    /// Sends one payload to every target through its app's client, with the client's backpressure (notifications
    /// are handed over in chunks as room comes free), then retires the tokens APNs reported dead. Targets already
    /// marked skipped are not sent. An end that reached a device records its activity as ended.
    func fanOut(
        payload: ByteBuffer, priority: APNsPriority, event: LiveActivityEvent, targets: [PushTarget],
        skipped: [Int: SkipReason] = [:]
    ) async -> FanOutReport {
        var outcomes = targets.map { TargetOutcome(target: $0) }
        var sendable: [(index: Int, app: APNsApp, client: APNsClient)] = []
        var sizes: [String: Int] = [:]
        for target in targets { sizes[target.bundleID, default: 0] += 1 }
        for (bundleID, size) in sizes {
            metrics.observeFanOut(app: appName(forBundleID: bundleID), event: event.rawValue, size: size)
        }
        for (index, target) in targets.enumerated() {
            if let reason = skipped[index] {
                outcomes[index].skipped = reason
            } else if target.isDead {
                outcomes[index].skipped = .dead
            } else if let app = app(forBundleID: target.bundleID) {
                // A token goes to the app's connection of its own environment; without one it is skipped.
                if let client = app.client(for: target.environment) {
                    sendable.append((index, app, client))
                } else {
                    outcomes[index].skipped = .otherEnvironment
                }
            } else {
                outcomes[index].skipped = .unknownApp
            }
        }
        let collector = APNsResultCollector(count: sendable.count)
        var start = 0
        while start < sendable.count {
            let chunk = sendable[start..<min(start + Self.fanOutChunk, sendable.count)]
            // Group by client, keeping order within each.
            var byClient: [ObjectIdentifier: (client: APNsClient, positions: [Int], notifications: [APNsNotification])] = [:]
            for (offset, entry) in zip(chunk.indices, chunk) {
                let target = targets[entry.index]
                let notification = APNsNotification(
                    deviceToken: target.token, payload: payload, pushType: .liveactivity,
                    topic: entry.app.topic(for: .liveactivity), priority: priority)
                byClient[ObjectIdentifier(entry.client), default: (entry.client, [], [])].positions.append(offset)
                byClient[ObjectIdentifier(entry.client)]!.notifications.append(notification)
            }
            for (_, group) in byClient {
                let positions = group.positions
                await group.client.send(group.notifications) { index, result in
                    collector.set(positions[index], result)
                }
            }
            start += Self.fanOutChunk
        }
        let results = await collector.wait()
        var dead: [(position: Int, token: String, at: Int64, reason: String)] = []
        let now = clock()
        for (position, result) in results.enumerated() {
            outcomes[sendable[position].index].result = result
            guard result.source == .apns else { continue }
            let token = targets[sendable[position].index].token
            if result.status == 410 {
                // APNs's timestamp is in milliseconds; a registration after it keeps the token alive.
                let reason = result.apnsReason ?? .unregistered
                dead.append((position, token, result.timestamp.map { $0 / 1000 } ?? now, reason.rawValue))
            } else if result.status == 400 && result.apnsReason == .badDeviceToken {
                dead.append((position, token, now, APNsReason.badDeviceToken.rawValue))
            }
        }
        if !dead.isEmpty {
            let toRetire = dead
            var retired: [Int] = []
            do {
                retired = try await withRegistry { registry in
                    var retired: [Int] = []
                    for entry in toRetire where try registry.markDead(token: entry.token, at: entry.at, reason: entry.reason) > 0 {
                        retired.append(entry.position)
                    }
                    return retired
                }
            } catch {
                logger.error("cannot retire dead tokens", metadata: ["count": "\(dead.count)", "error": "\(error)"])
            }
            let reasons = Dictionary(dead.map { ($0.position, $0.reason) }, uniquingKeysWith: { first, _ in first })
            for position in retired {
                let target = targets[sendable[position].index]
                outcomes[sendable[position].index].retired = true
                let reason = reasons[position] ?? APNsReason.unregistered.rawValue
                metrics.retired(app: appName(forBundleID: target.bundleID), reason: reason, count: 1)
            }
            if retired.count < dead.count {
                logger.debug("some dead tokens were re-registered after APNs's verdict", metadata: [
                    "reported": "\(dead.count)", "retired": "\(retired.count)",
                ])
            }
        }
        let report = FanOutReport(outcomes: outcomes)
        if priority == .immediate { countAgainstBudget(report, now: now) }
        if event == .end { await recordEnded(report, now: now) }
        return report
    }

    /// The configured name of the app with a bundle ID, or the bundle ID.
    func appName(forBundleID bundleID: String) -> String {
        app(forBundleID: bundleID)?.name ?? bundleID
    }

    /// One priority-10 push per activity that something was sent to; warns once per activity and hour over budget.
    private func countAgainstBudget(_ report: FanOutReport, now: Int64) {
        var activities: [String: String] = [:]
        for outcome in report.outcomes where outcome.result != nil {
            if let activity = outcome.target.activity { activities[activity] = outcome.target.bundleID }
        }
        for (activity, bundleID) in activities {
            let app = appName(forBundleID: bundleID)
            if metrics.priorityPush(app: app, activityID: activity, now: now) == .over(first: true) {
                logger.warning(
                    "activity is over its hourly budget of priority-10 pushes; Apple may throttle its updates: send routine updates at priority 5",
                    metadata: [
                        "app": "\(app)", "activityId": "\(activity)",
                        "budgetPerHour": "\(configuration.priorityBudgetPerHour)",
                    ])
            }
        }
    }

    /// Records the activities that an end push reached (some token got 200) as ended.
    private func recordEnded(_ report: FanOutReport, now: Int64) async {
        let ended = Set(report.outcomes.compactMap { $0.result?.status == 200 ? $0.target.activity : nil })
        guard !ended.isEmpty else { return }
        metrics.ended(ended)
        let activityIDs = Array(ended)
        do {
            _ = try await withRegistry { try $0.markEnded(activityIDs: activityIDs, at: now) }
        } catch {
            logger.error("cannot record ended activities", metadata: ["count": "\(activityIDs.count)", "error": "\(error)"])
        }
    }

    /// Notifications built and handed to a client at a time: bounds what one large fan-out holds beyond the
    /// client's own bound on outstanding notifications.
    static let fanOutChunk = 256
}
