/// What an APNs answer means for the request that got it.
public enum APNsDisposition: Sendable, Hashable {
    /// Delivered (accepted by APNs).
    case success
    /// Rejected for good: retrying the same request cannot succeed.
    case permanentFailure
    /// A transient failure: retry after a back-off.
    case retryable
    /// The provider token expired: sign a new one, then retry.
    case refreshTokenAndRetry
    /// The request should be retried on a new connection. No documented APNs answer maps to this
    /// today (see ``APNsResponse/requiresNewConnection`` for `UnrelatedKeyIdInToken`); it exists
    /// for outcomes the client classifies itself.
    case reconnectAndRetry
}

extension APNsResponse {
    /// How to treat this answer.
    ///
    /// - 200: ``APNsDisposition/success``.
    /// - `ExpiredProviderToken`: ``APNsDisposition/refreshTokenAndRetry``.
    /// - `TooManyRequests`, `TooManyProviderTokenUpdates`, `InternalServerError`,
    ///   `ServiceUnavailable`, `Shutdown`: ``APNsDisposition/retryable``.
    /// - Every other documented reason (`BadDeviceToken`, `Unregistered`, `ExpiredToken`,
    ///   `PayloadTooLarge`, `DeviceTokenNotForTopic`, `Forbidden`, `UnrelatedKeyIdInToken`, ...):
    ///   ``APNsDisposition/permanentFailure``. `UnrelatedKeyIdInToken` is final for the request,
    ///   but the connection should be replaced: see ``requiresNewConnection``.
    /// - No reason or an unknown one: by status: 5xx and 429 retryable, everything else permanent.
    public var disposition: APNsDisposition {
        if self.status == 200 {
            return .success
        }
        switch self.reason {
        case .expiredProviderToken:
            return .refreshTokenAndRetry
        case .tooManyRequests, .tooManyProviderTokenUpdates, .internalServerError, .serviceUnavailable, .shutdown:
            return .retryable
        case .none, .unknown:
            return (500...599).contains(self.status) || self.status == 429 ? .retryable : .permanentFailure
        case .some:
            return .permanentFailure
        }
    }

    /// Whether the connection that carried the request should be closed and replaced: APNs binds a
    /// connection to the key of its first push and answers `UnrelatedKeyIdInToken` to tokens signed
    /// with another key.
    public var requiresNewConnection: Bool {
        self.reason == .unrelatedKeyIdInToken
    }
}
