import APNs
import LiveActivity

/// What becomes of a claimed scheduled end once its pushes have their final results: the rule, apart from the
/// I/O that sends them and records the outcome.
///
/// - Some token got 200 → ``done``: the end reached a device. Tokens APNs reported dead (410, `BadDeviceToken`)
///   are retired as for any push, whatever the outcome.
/// - No token got 200 and some push got no answer from APNs (no connection, shutdown, deadline) →
///   ``retryLater``: the end goes back to `pending` and the whole end is tried again later (tokens retired
///   meanwhile are skipped then).
/// - Something was sent and every push was refused (by APNs, or rejected locally before sending) → ``failed(reason:)``
///   with the answers counted by status and reason, e.g. `2× 400 BadTopic, 1× 410 Unregistered`.
/// - Nothing to send (no token registered for the activity and app, or only dead ones) → ``done``: there is no
///   device to reach, as before any token was refused.
/// - The stored end makes no valid push (an end stored by an older build without `content-state`) →
///   ``failed(reason:)`` without sending anything.
enum ScheduledEndOutcome: Equatable, Sendable {
    /// Delivered to at least one device, or there was no device to deliver to.
    case done
    /// Not delivered, and trying again would not change that.
    case failed(reason: String)
    /// Not delivered because APNs did not answer: back to `pending`.
    case retryLater

    /// The outcome of the pushes of one end; `nil` when there was no token to send to.
    init(report: FanOutReport?) {
        guard let report else {
            self = .done
            return
        }
        let results = report.outcomes.compactMap(\.result)
        if results.isEmpty || results.contains(where: \.isSuccess) {
            self = .done
        } else if results.contains(where: { $0.source == .gateway }) {
            self = .retryLater
        } else {
            self = .failed(reason: Self.refusals(report))
        }
    }

    /// The outcome of an end whose push could not be built.
    init(unsendable error: LiveActivityPayloadError) {
        if error == .missingContentState(.end) {
            self = .failed(
                reason: "stored without a content-state (scheduled by an older version of the gateway); APNs requires "
                    + "the final content-state with an end, so nothing was sent: schedule it again with \"contentState\"")
        } else {
            self = .failed(reason: "the end push cannot be built, so nothing was sent: \(error)")
        }
    }

    /// The label of ``ScheduledEndStatistics``.
    var statistic: ScheduledEndStatistics.Outcome {
        switch self {
        case .done: .done
        case .failed: .failed
        case .retryLater: .deferred
        }
    }

    /// `no token accepted the end: 2× 400 BadTopic, 1× 410 Unregistered; skipped: 1× Dead`: the refusals by
    /// answer, most frequent first. Never a token.
    private static func refusals(_ report: FanOutReport) -> String {
        var answers: [String: Int] = [:]
        var skipped: [String: Int] = [:]
        for outcome in report.outcomes {
            if let result = outcome.result {
                let reason = result.reason ?? "no reason"
                let answer = switch result.source {
                case .apns: "\(result.status.map { String($0) } ?? "?") \(reason)"
                case .local: "rejected before sending: \(reason)"
                case .gateway: "no answer: \(reason)"
                }
                answers[answer, default: 0] += 1
            } else if let reason = outcome.skipped {
                skipped[reason.rawValue, default: 0] += 1
            }
        }
        var text = "no token accepted the end: " + counted(answers)
        if !skipped.isEmpty { text += "; skipped: " + counted(skipped) }
        return text
    }

    private static func counted(_ table: [String: Int]) -> String {
        table.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .map { "\($0.value)× \($0.key)" }.joined(separator: ", ")
    }
}
