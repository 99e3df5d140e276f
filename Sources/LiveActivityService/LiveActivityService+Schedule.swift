import APNsCore
import LiveActivity
import Logging
import JSON
import NIOCore

extension LiveActivityService {
    /// `activity.schedule_end`: stores an end in the registry; the scheduler sends it once when due.
    func scheduleEnd(_ request: inout RequestObject, into writer: inout JSONWriter) async
        throws(LiveActivityServiceError)
    {
        let activityID = try request.requiredIdentifier("activityId", "the activity to end")
        guard let fireAt = try request.date("at") else {
            throw .badRequest("missing \"at\" (when to end: epoch seconds or ISO-8601) for activity.schedule_end", field: "at")
        }
        let scheduleID = try request.identifier("scheduleId")
        let contentState = try request.rawObject("contentState")
        // "now" means when the end is sent.
        let dismissalDate = try Self.dismissal(&request, now: fireAt)
        let app = try app(&request)
        try request.finish()
        guard let contentState else { throw Self.missingFinalContent }
        let endRequest = ScheduledEndRequest(
            id: scheduleID, activityID: activityID, app: app.bundleID, fireAt: fireAt,
            contentState: String(buffer: contentState.trimmingJSONWhitespace()), dismissalDate: dismissalDate)
        let now = clock()
        let end = try await withRegistry { try $0.schedule(endRequest, at: now) }
        if end.state == .pending && end.fireAt <= now + 1 { scheduler.wake() }
        writer.string("scheduleId", end.id)
        writer.string("activityId", end.activityID)
        writer.int("fireAt", end.fireAt)
        writer.string("state", end.state.rawValue)
        if let reason = end.failureReason { writer.string("failureReason", reason) }
        if end.possiblySent { writer.bool("possiblySent", true) }
    }

    /// `activity.cancel_scheduled_end`.
    func cancelScheduledEnd(_ request: inout RequestObject, into writer: inout JSONWriter) async
        throws(LiveActivityServiceError)
    {
        let scheduleID = try request.requiredIdentifier("scheduleId", "the id activity.schedule_end returned")
        try request.finish()
        let (cancelled, end) = try await withRegistry { registry in
            let cancelled = try registry.cancel(scheduledEndID: scheduleID)
            return (cancelled, cancelled ? nil : try registry.scheduledEnd(id: scheduleID))
        }
        if !cancelled {
            guard let end else {
                throw LiveActivityServiceError(
                    .unknownSchedule, "no scheduled end has id \(RequestObject.shown(scheduleID))", field: "scheduleId")
            }
            let what = switch end.state {
            case .firing, .done: "was already sent (state \(end.state.rawValue))"
            case .failed: "was already sent and failed: \(end.failureReason ?? "no reason recorded")"
            case .cancelled: "was already cancelled"
            case .pending: "is pending but could not be cancelled; try again"
            }
            throw LiveActivityServiceError(
                .scheduleNotPending, "the scheduled end \(RequestObject.shown(scheduleID)) \(what)", field: "scheduleId")
        }
        writer.string("scheduleId", scheduleID)
        writer.bool("cancelled", true)
    }

    /// How long after its claim an end left `firing` may be resent: far longer than any send takes (a send
    /// ends within the client's request deadline), so an end still being sent is never released.
    public static let resendAfterClaim: Int64 = 300

    /// `activity.resend_scheduled_end`: returns an end that a stopped gateway left `firing` to `pending`, so
    /// that the scheduler sends it. Devices that got the end before the stop get it again.
    func resendScheduledEnd(_ request: inout RequestObject, into writer: inout JSONWriter) async
        throws(LiveActivityServiceError)
    {
        let scheduleID = try request.requiredIdentifier("scheduleId", "the scheduled end left firing")
        try request.finish()
        let now = clock()
        let (released, end) = try await withRegistry { registry -> (Bool, ScheduledEnd?) in
            guard let end = try registry.scheduledEnd(id: scheduleID) else { return (false, nil) }
            guard end.state == .firing, now - (end.claimedAt ?? now) >= Self.resendAfterClaim else { return (false, end) }
            return (try registry.release(scheduledEndID: scheduleID), end)
        }
        guard let end else {
            throw LiveActivityServiceError(
                .unknownSchedule, "no scheduled end has id \(RequestObject.shown(scheduleID))", field: "scheduleId")
        }
        if !released {
            if end.state == .firing {
                let age = now - (end.claimedAt ?? now)
                throw LiveActivityServiceError(
                    .scheduleInFlight, "the scheduled end \(RequestObject.shown(scheduleID)) was claimed \(age) s ago and "
                        + "may still be being sent; an end can be resent \(Self.resendAfterClaim) s after its claim",
                    field: "scheduleId")
            }
            let failure = end.failureReason.map { " (\($0))" } ?? ""
            throw LiveActivityServiceError(
                .scheduleNotFiring, "the scheduled end \(RequestObject.shown(scheduleID)) is \(end.state.rawValue)\(failure); "
                    + "only an end left firing by a stopped gateway can be resent", field: "scheduleId")
        }
        logger.notice("scheduled end released for resending", metadata: ["scheduleId": "\(scheduleID)"])
        if end.fireAt <= now + 1 { scheduler.wake() }
        writer.string("scheduleId", scheduleID)
        writer.string("activityId", end.activityID)
        writer.string("state", ScheduledEnd.State.pending.rawValue)
    }

    /// Claims the due scheduled ends and sends them, until none is due; returns how many were settled (`done` or
    /// `failed`; not those returned to `pending` for want of an answer from APNs). The scheduler calls this on
    /// every tick; tests may call it directly.
    @discardableResult
    public func fireDueEnds() async -> Int {
        await firePass().fired
    }

    /// One pass of the scheduler: how many ends were settled, and whether some got no answer from APNs (then the
    /// scheduler waits longer before the next pass).
    func firePass() async -> (fired: Int, deferred: Bool) {
        let (fired, released) = await claimAndFire()
        await housekeepIfDue()
        return (fired, !released.isEmpty)
    }

    private func claimAndFire() async -> (Int, Set<String>) {
        var fired = 0
        var released = Set<String>()
        while true {
            let now = clock()
            let claimed: [ScheduledEnd]
            do {
                claimed = try await withRegistry { try $0.claimDue(now: now, limit: 16) }
            } catch {
                logger.error("cannot claim due scheduled ends", metadata: ["error": "\(error)"])
                return (fired, released)
            }
            if claimed.isEmpty { return (fired, released) }
            var toFire: [ScheduledEnd] = []
            for end in claimed {
                if released.contains(end.id) {
                    // Already tried in this pass without an answer from APNs: back to pending for a later tick.
                    _ = try? await withRegistry { try $0.release(scheduledEndID: end.id) }
                } else {
                    toFire.append(end)
                }
            }
            // The claimed ends go out together: each is one small fan-out, and one after another they would
            // take a round trip each (ends due in the same second are common: every viewer's activity of a match).
            await withTaskGroup(of: (String, Bool).self) { group in
                for end in toFire {
                    group.addTask { (end.id, await self.fire(end)) }
                }
                for await (id, wasFired) in group {
                    if wasFired {
                        fired += 1
                    } else {
                        released.insert(id)
                    }
                }
            }
            if claimed.allSatisfy({ released.contains($0.id) }) { return (fired, released) }
        }
    }

    /// Sends one claimed end and records what became of it (``ScheduledEndOutcome``); returns false when it was
    /// released for a later attempt (no answer from APNs).
    private func fire(_ end: ScheduledEnd) async -> Bool {
        var metadata: Logger.Metadata = ["scheduleId": "\(end.id)", "activityId": "\(end.activityID)"]
        if end.possiblySent {
            metadata["possiblySent"] = "true"
            scheduledEndCounter.count(.takenOver, app: app(forBundleID: end.app)?.name ?? end.app)
            logger.warning("scheduled end taken over after its claimer's lease ran out; it may have been sent already", metadata: metadata)
        }
        let (outcome, report) = await sendEnd(end, metadata: metadata)
        scheduledEndCounter.count(outcome.statistic, app: app(forBundleID: end.app)?.name ?? end.app)
        let tokens: Logger.Metadata = ["tokens": "\(report?.outcomes.count ?? 0)", "succeeded": "\(report?.succeeded ?? 0)"]
        switch outcome {
        case .retryLater:
            _ = try? await withRegistry { try $0.release(scheduledEndID: end.id) }
            logger.warning("scheduled end got no answer from APNs; it stays pending", metadata: metadata.merging(tokens) { $1 })
            return false
        case .done:
            do {
                _ = try await withRegistry { try $0.markDone(scheduledEndID: end.id) }
            } catch {
                logger.error("scheduled end sent but not confirmed", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            }
            logger.info("scheduled end sent", metadata: metadata.merging(tokens) { $1 })
        case .failed(let reason):
            do {
                _ = try await withRegistry { try $0.markFailed(scheduledEndID: end.id, reason: reason) }
            } catch {
                logger.error("scheduled end failed but not recorded", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            }
            logger.warning("scheduled end failed", metadata: metadata.merging(tokens) { $1 }.merging(["reason": "\(reason)"]) { $1 })
        }
        return true
    }

    /// Sends one end's push to its activity's tokens for its app; the outcome, and the pushes' report when some
    /// token was to be sent to.
    private func sendEnd(_ end: ScheduledEnd, metadata: Logger.Metadata) async -> (ScheduledEndOutcome, FanOutReport?) {
        let bytes: ByteBuffer
        do {
            // A dismissal date at or before now (a "now" given when scheduling) removes the activity at once.
            bytes = try end.payload.encode(now: clock())
        } catch {
            return (ScheduledEndOutcome(unsendable: error), nil)
        }
        let records: [ActivityTokenRecord]
        do {
            records = try await withRegistry { try $0.allTokens(forActivity: end.activityID) }
        } catch {
            logger.error("cannot read the tokens of a scheduled end", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            return (.retryLater, nil)
        }
        let targets = records.filter { $0.registration.app == end.app }.map { Self.target($0) }
        guard !targets.isEmpty else { return (ScheduledEndOutcome(report: nil), nil) }
        let report = await fanOut(payload: bytes, priority: .immediate, event: .end, targets: targets)
        return (ScheduledEndOutcome(report: report), report)
    }

    /// `activity.lifecycle`: the push the configuration maps an upstream state to.
    func lifecycle(_ request: inout RequestObject, into writer: inout JSONWriter) async
        throws(LiveActivityServiceError)
    {
        let activityID = try request.requiredIdentifier("activityId", "the activity")
        let state = try request.requiredString("state", "the upstream state, e.g. \"cancelled\"")
        let values = try request.members("values") ?? .empty
        let timestamp = try request.date("timestamp")
        try request.finish()
        guard let rule = configuration.lifecycle[state] else {
            let known = configuration.lifecycle.keys.sorted()
            throw LiveActivityServiceError(
                .unknownState, "no lifecycle rule for state \(RequestObject.shown(state)); configured: "
                    + (known.isEmpty ? "none (see liveActivities.lifecycle)" : known.joined(separator: ", ")),
                field: "state")
        }
        let now = timestamp ?? clock()
        var payload = LiveActivityPayload(event: rule.event, timestamp: now)
        payload.contentState = try rule.contentState?.render(values: values)
        payload.alert = try rule.alert?.render(values: values)
        if rule.event == .end {
            switch rule.dismissal {
            case .systemDefault: payload.dismissalDate = nil
            case .now: payload.dismissalDate = now
            case .after(let seconds): payload.dismissalDate = now + seconds
            }
        }
        let bytes = try encode(payload)
        let priority = rule.priority ?? (rule.event == .update ? .conserve : .immediate)
        writer.string("state", state)
        try await push(bytes, priority: priority, event: rule.event, to: .activity(activityID), into: &writer)
    }
}
