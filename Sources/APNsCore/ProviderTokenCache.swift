import NIOConcurrencyHelpers

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The shared provider token of one (team, key): signed once, reused by every connection and
/// request, replaced after ``refreshInterval``.
///
/// APNs rejects tokens older than an hour (`ExpiredProviderToken`) and answers
/// `TooManyProviderTokenUpdates` to more than one new token per 20 minutes, so the interval must be
/// within 20...55 minutes, and ``tokenRejected(_:)`` refuses to sign again within 20 minutes.
///
/// Thread safety: all state is behind one lock (a pthread mutex, which ThreadSanitizer can see); signing (rare) happens under it, so concurrent
/// callers never sign twice for one refresh. Time comes only from the injected clock.
public final class APNsProviderTokenCache: Sendable {
    /// The shortest refresh interval allowed, and the least age at which a rejected token may be
    /// replaced (APNs: no more than one new token per 20 minutes).
    public static let minimumTokenAge: Duration = .seconds(20 * 60)
    /// The longest refresh interval allowed (APNs rejects tokens older than 60 minutes).
    public static let maximumRefreshInterval: Duration = .seconds(55 * 60)

    /// Seconds since the epoch from the system's real-time clock (`time(2)`: whole seconds are all a token's
    /// `iat` and age need, and it is read on every request).
    public static let systemClock: @Sendable () -> Int64 = {
        var seconds = time_t()
        _ = time(&seconds)
        return Int64(seconds)
    }

    private struct State: Sendable {
        /// What signs the tokens; ``rotate(key:keyID:teamID:)`` replaces it.
        var key: APNsSigningKey
        var keyID: String
        var teamID: String
        /// The current `authorization` value: `"bearer <jwt>"`.
        var authorization: String
        /// The current token's `iat`.
        var issuedAt: Int64
        var refreshCount: Int
    }

    /// The current token's `kid`.
    public var keyID: String { state.withLockedValue { $0.keyID } }
    /// The current token's `iss`.
    public var teamID: String { state.withLockedValue { $0.teamID } }
    /// How old a token may get before ``authorization()`` signs a new one.
    public let refreshInterval: Duration
    private let refreshSeconds: Int64
    private let clock: @Sendable () -> Int64
    private let state: NIOLockedValueBox<State>

    /// Creates the cache and signs the first token.
    ///
    /// - Parameters:
    ///   - key: the signing key (`.p8`).
    ///   - keyID: the key's 10-character ID (`kid`).
    ///   - teamID: the 10-character team ID (`iss`).
    ///   - refreshInterval: token lifetime before a new one is signed, 20...55 minutes.
    ///   - clock: the current time in seconds since the epoch; tests inject their own.
    /// - Throws: ``APNsProviderTokenError`` for a bad key ID, team ID or interval, or if signing
    ///   fails.
    public init(
        key: APNsSigningKey,
        keyID: String,
        teamID: String,
        refreshInterval: Duration = .seconds(50 * 60),
        clock: @escaping @Sendable () -> Int64 = APNsProviderTokenCache.systemClock
    ) throws {
        guard refreshInterval >= Self.minimumTokenAge && refreshInterval <= Self.maximumRefreshInterval else {
            throw APNsProviderTokenError.invalidRefreshInterval.with(
                "token refresh interval \(refreshInterval) is outside 20...55 minutes "
                    + "(APNs rejects tokens older than 60 minutes and new tokens more often than every 20)")
        }
        try validateIdentifier(keyID, error: .invalidKeyID, name: "key ID")
        try validateIdentifier(teamID, error: .invalidTeamID, name: "team ID")
        self.refreshInterval = refreshInterval
        self.refreshSeconds = refreshInterval.components.seconds
        self.clock = clock
        let now = clock()
        let token = try key.makeProviderToken(keyID: keyID, teamID: teamID, issuedAt: now)
        self.state = NIOLockedValueBox(State(
            key: key, keyID: keyID, teamID: teamID, authorization: "bearer " + token, issuedAt: now, refreshCount: 1))
    }

    /// Replaces the signing key (key rotation) and signs the first token with it at once: every
    /// ``authorization()`` from now on returns a token of the new key, while requests already sent finish
    /// with the token they carry (an `ExpiredProviderToken` answer to one of them gets the new token on
    /// retry, since ``tokenRejected(_:)`` sees it was replaced). A no-op when nothing changed.
    ///
    /// - Throws: ``APNsProviderTokenError`` for a bad key ID or team ID, or if signing fails; the old key
    ///   then stays in use.
    public func rotate(key: APNsSigningKey, keyID: String, teamID: String) throws {
        try validateIdentifier(keyID, error: .invalidKeyID, name: "key ID")
        try validateIdentifier(teamID, error: .invalidTeamID, name: "team ID")
        let now = self.clock()
        let token = try key.makeProviderToken(keyID: keyID, teamID: teamID, issuedAt: now)
        self.state.withLockedValue { state in
            guard state.key.publicKeyPEM != key.publicKeyPEM || state.keyID != keyID || state.teamID != teamID else { return }
            state.key = key
            state.keyID = keyID
            state.teamID = teamID
            state.authorization = "bearer " + token
            state.issuedAt = now
            state.refreshCount += 1
        }
    }

    /// The `authorization` header value, `"bearer <jwt>"`.
    ///
    /// Returns the cached token until it is ``refreshInterval`` old, then signs a new one. The
    /// usual path is one clock call and one lock, returning the cached string.
    public func authorization() -> String {
        let now = self.clock()
        return self.state.withLockedValue { state in
            if now - state.issuedAt >= self.refreshSeconds {
                self.refresh(&state, now: now)
            }
            return state.authorization
        }
    }

    /// Handles an `ExpiredProviderToken` answer to a request that carried `rejected` (the
    /// `authorization` value it was sent with, or the bare JWT).
    ///
    /// - Returns: `true` if the caller should retry with ``authorization()``: a newer token already
    ///   replaced `rejected`, or `rejected` is at least 20 minutes old (or the clock went back
    ///   behind its `iat`) and a new one was just signed. `false` if `rejected` is the current
    ///   token and younger than 20 minutes: signing again would only earn
    ///   `TooManyProviderTokenUpdates`, so the caller should report APNs's answer.
    public func tokenRejected(_ rejected: String) -> Bool {
        let now = self.clock()
        return self.state.withLockedValue { state in
            guard Self.isSameToken(rejected, authorization: state.authorization) else {
                return true
            }
            let age = now - state.issuedAt
            guard age >= Self.minimumTokenAge.components.seconds || age < 0 else {
                return false
            }
            return self.refresh(&state, now: now)
        }
    }

    /// How many tokens have been signed, the first one included.
    public var refreshCount: Int {
        self.state.withLockedValue { $0.refreshCount }
    }

    /// The current token's `iat`.
    public var issuedAt: Int64 {
        self.state.withLockedValue { $0.issuedAt }
    }

    /// Signs a new token into `state`. On failure (which a key that signed once cannot really
    /// hit) the old token stays: APNs's answer to it will be reported.
    @discardableResult
    private func refresh(_ state: inout State, now: Int64) -> Bool {
        guard let token = try? state.key.makeProviderToken(keyID: state.keyID, teamID: state.teamID, issuedAt: now) else {
            return false
        }
        state.authorization = "bearer " + token
        state.issuedAt = now
        state.refreshCount += 1
        return true
    }

    private static func isSameToken(_ rejected: String, authorization: String) -> Bool {
        if rejected == authorization {
            return true
        }
        let prefixLength = "bearer ".utf8.count
        return rejected.utf8.count + prefixLength == authorization.utf8.count
            && authorization.utf8.dropFirst(prefixLength).elementsEqual(rejected.utf8)
    }
}
