import APNsCore
import NIOConcurrencyHelpers

/// One kind of final result: who decided it, APNs's status, and the reason.
public struct APNsOutcome: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var source: APNsResult.Source
    /// APNs's HTTP status; nil for local and gateway results.
    public var status: Int?
    /// The reason; nil for a 200.
    public var reason: String?

    public init(source: APNsResult.Source, status: Int?, reason: String?) {
        self.source = source
        self.status = status
        self.reason = reason
    }

    /// `"200"`, `"410 Unregistered"`, `"local BadDeviceToken"`, `"gateway Shutdown"`: the keys of the `stats` op's
    /// `byOutcome`.
    public var description: String {
        switch source {
        case .apns: reason.map { "\(status ?? 0) \($0)" } ?? "\(status ?? 0)"
        case .local: "local \(reason ?? "")"
        case .gateway: "gateway \(reason ?? "")"
        }
    }

    public static func < (lhs: APNsOutcome, rhs: APNsOutcome) -> Bool {
        lhs.description < rhs.description
    }
}

/// Final results counted by ``APNsOutcome`` without a lock or a lookup: a 200, every documented APNs reason
/// with its documented status, every local rejection and every gateway reason has a fixed slot, found by an
/// enum's ordinal. Anything else (a reason APNs does not document, or with an unusual status) is rare and goes
/// to a locked table.
final class APNsOutcomeCounters: Sendable {
    /// A slot in the fixed table, or ``other`` for the locked one.
    struct Slot: Hashable {
        let index: Int
        static let other = Slot(index: -1)
        static let success = Slot(index: 0)

        static func apns(status: Int, reason: APNsReason?) -> Slot {
            if status == 200 { return .success }
            guard let reason, let position = reason.documentedIndex, reason.documentedStatus == status else { return .other }
            return Slot(index: 1 + position)
        }

        static func local(_ error: APNsValidationError) -> Slot {
            Slot(index: localBase + error.ordinal)
        }

        static func gateway(_ reason: GatewayReason) -> Slot {
            Slot(index: gatewayBase + GatewayReason.allCases.firstIndex(of: reason)!)
        }
    }

    private static let localBase = 1 + APNsReason.documented.count
    private static let gatewayBase = localBase + APNsValidationError.all.count
    private static let slotCount = gatewayBase + GatewayReason.allCases.count

    /// The outcome each fixed slot stands for.
    private static let slotOutcomes: [APNsOutcome] = {
        var outcomes = [APNsOutcome(source: .apns, status: 200, reason: nil)]
        outcomes += APNsReason.documented.map { APNsOutcome(source: .apns, status: $0.documentedStatus, reason: $0.rawValue) }
        outcomes += APNsValidationError.all.map { APNsOutcome(source: .local, status: nil, reason: $0.reason) }
        outcomes += GatewayReason.allCases.map { APNsOutcome(source: .gateway, status: nil, reason: $0.rawValue) }
        precondition(outcomes.count == slotCount)
        return outcomes
    }()

    private let fixed = AtomicCounterArray(count: APNsOutcomeCounters.slotCount)
    private let other = NIOLockedValueBox<[APNsOutcome: Int]>([:])

    /// Counts `result`, in `slot` when it has one.
    @inline(__always)
    func record(_ result: APNsResult, slot: Slot) {
        if slot.index >= 0 {
            fixed.add(slot.index)
        } else {
            let outcome = APNsOutcome(source: result.source, status: result.source == .apns ? result.status : nil, reason: result.reason)
            other.withLockedValue { $0[outcome, default: 0] += 1 }
        }
    }

    /// 200s so far.
    var succeeded: Int { fixed.load(Slot.success.index) }

    /// Every outcome seen so far with its count (outcomes never seen are left out).
    func snapshot() -> [APNsOutcome: Int] {
        var result = other.withLockedValue { $0 }
        for (index, count) in fixed.loadAll().enumerated() where count > 0 {
            result[Self.slotOutcomes[index], default: 0] += count
        }
        return result
    }
}
