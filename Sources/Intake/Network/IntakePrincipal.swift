import NIOConcurrencyHelpers
import NIOCore

/// What an authenticated network client may do: one scope per group of ops.
public enum IntakeScope: String, Sendable, CaseIterable, Comparable {
    /// `send`: plain notifications.
    case send
    /// `activity.*`: Live Activity registration, start, update, end and scheduled ends.
    case activity
    /// `channel.*`: broadcast channel ops.
    case channel
    /// `stats`: the gateway's figures.
    case stats

    /// The scope an op needs; nil for ops every authenticated client may use (`ping`) and for ops no scope
    /// names (they are answered `UnknownOp` as before).
    public static func required(forOp op: String) -> IntakeScope? {
        switch op {
        case "send": return .send
        case "stats": return .stats
        default:
            if op.hasPrefix("activity.") { return .activity }
            if op.hasPrefix("channel.") { return .channel }
            return nil
        }
    }

    public static func < (lhs: IntakeScope, rhs: IntakeScope) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// A rate limit: notifications per second, with bursts up to ``burst``.
public struct IntakeRateLimit: Sendable, Hashable {
    /// Notifications per second, sustained.
    public var perSecond: Int
    /// The most notifications at once after a quiet spell (the bucket's size); at least 1.
    public var burst: Int

    /// A limit of `perSecond`, with bursts of `burst` (default: one second's worth).
    public init(perSecond: Int, burst: Int? = nil) {
        self.perSecond = perSecond
        self.burst = burst ?? perSecond
    }

    /// The values of ``perSecond`` and ``burst`` worth configuring.
    public static let range = 1...10_000_000
}

/// A token bucket without I/O: ``take(_:now:)`` grants what the bucket holds, refilled at the limit's rate since
/// the last call.
struct TokenBucket: Sendable {
    let limit: IntakeRateLimit
    private(set) var tokens: Double
    private var last: NIODeadline

    /// A full bucket at `now`.
    init(limit: IntakeRateLimit, now: NIODeadline) {
        self.limit = limit
        self.tokens = Double(limit.burst)
        self.last = now
    }

    /// Takes up to `count` tokens; returns how many were granted (the first ones of a request go, the rest
    /// are refused).
    mutating func take(_ count: Int, now: NIODeadline) -> Int {
        if now > last {
            let seconds = Double((now - last).nanoseconds) / 1e9
            tokens = min(Double(limit.burst), tokens + seconds * Double(limit.perSecond))
            last = now
        }
        let granted = min(count, Int(tokens))
        tokens -= Double(granted)
        return granted
    }

    /// How long until the next token, in milliseconds (at least 1).
    var millisecondsToNextToken: Int {
        let missing = max(0, 1 - tokens)
        return max(1, Int((missing * 1000 / Double(limit.perSecond)).rounded(.up)))
    }
}

/// An authenticated network client: a name (for logs and replies; never a secret), the scopes it holds and its
/// rate limit, shared by all its connections.
public final class IntakePrincipal: Sendable {
    /// The name from the credentials file.
    public let name: String
    /// The ops it may use.
    public let scopes: Set<IntakeScope>
    /// Its limit; nil: none.
    public let rateLimit: IntakeRateLimit?
    private let bucket: NIOLockedValueBox<TokenBucket>?

    /// A principal with a full bucket.
    public init(name: String, scopes: Set<IntakeScope>, rateLimit: IntakeRateLimit?) {
        self.name = name
        self.scopes = scopes
        self.rateLimit = rateLimit
        self.bucket = rateLimit.map { NIOLockedValueBox(TokenBucket(limit: $0, now: .now())) }
    }

    /// Takes `count` notifications from the rate limit: how many may go now, and when the refused ones may try
    /// again (milliseconds).
    func admit(_ count: Int, now: NIODeadline = .now()) -> (granted: Int, retryAfterMilliseconds: Int) {
        guard let bucket else { return (count, 0) }
        return bucket.withLockedValue { bucket in
            let granted = bucket.take(count, now: now)
            return (granted, granted < count ? bucket.millisecondsToNextToken : 0)
        }
    }

    /// The scopes, comma-separated in a fixed order.
    public var scopeList: String { scopes.sorted().map(\.rawValue).joined(separator: ",") }

    /// Why `op` is refused to this principal, or nil when it is allowed.
    func refusal(forOp op: String) -> (IntakeErrorCode, String)? {
        if op == "auth" {
            return (.badRequest, "this connection is already authenticated (as \"\(name)\")")
        }
        guard let scope = IntakeScope.required(forOp: op), !scopes.contains(scope) else { return nil }
        let shown = op.utf8.count > 40 ? String(op.prefix(40)) + "…" : op
        return (
            .forbidden,
            "\"\(name)\" may not use \(shown): it needs the scope \"\(scope.rawValue)\" (it has: \(scopeList.isEmpty ? "none" : scopeList)); "
                + "the connection closes"
        )
    }
}
