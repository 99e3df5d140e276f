/// The APNs environment a device token belongs to: a token works only against the servers of its own
/// environment (APNs answers `BadDeviceToken` otherwise).
public enum APNsTokenEnvironment: String, Sendable, Hashable, CaseIterable {
    /// `api.push.apple.com`.
    case production
    /// `api.sandbox.push.apple.com`.
    case development
}
