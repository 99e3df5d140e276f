/// The value of the `apns-priority` header.
public enum APNsPriority: Int, Sendable, Hashable {
    /// `10`: deliver immediately (APNs's default). Not allowed for background pushes.
    case immediate = 10
    /// `5`: deliver at a time that conserves the device's power.
    case conserve = 5
    /// `1`: lowest priority; APNs may hold the notification back.
    case low = 1

    /// Parses a numeric priority, accepting only 10, 5 and 1.
    ///
    /// - Throws: ``APNsValidationError/badPriority``.
    public init(validating value: Int) throws(APNsValidationError) {
        guard let priority = APNsPriority(rawValue: value) else {
            throw APNsValidationError.badPriority.with("priority \(value) is not one of 10, 5 or 1")
        }
        self = priority
    }

    /// The header value (`"10"`, `"5"` or `"1"`), without allocating.
    public var headerValue: String {
        switch self {
        case .immediate: return "10"
        case .conserve: return "5"
        case .low: return "1"
        }
    }
}
