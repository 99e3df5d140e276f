/// One HTTP/2 header field: a lowercase name and its value.
public struct APNsHeaderField: Sendable, Hashable {
    /// The field name, lowercase (`":path"`, `"apns-topic"`, ...).
    public var name: String
    /// The field value.
    public var value: String

    /// Creates a header field.
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// Builds the HTTP/2 request headers for a notification.
///
/// The constant names and the pseudo-header values are string literals (no allocation); the
/// per-push values are the path, the topic and whichever optional headers are set.
public enum APNsHeaderEncoder {
    /// The prefix of every push request's `:path`.
    public static let pathPrefix = "/3/device/"

    /// The request's headers in wire order: `:method` POST, `:scheme` https, `:authority`,
    /// `:path` `/3/device/<token>`, then `authorization` (if non-nil), `apns-push-type`,
    /// `apns-topic`, `apns-priority`, `apns-expiration`, `apns-collapse-id` and `apns-id` (each
    /// only if set). Names are lowercase.
    ///
    /// - Parameters:
    ///   - notification: the notification; call ``APNsNotification/validate()`` first, the encoder
    ///     does not check values.
    ///   - authority: the `:authority` value, e.g. `"api.push.apple.com"`.
    ///   - authorization: the `authorization` header value as returned by
    ///     ``APNsProviderTokenCache/authorization()`` (`"bearer <jwt>"`); a bare JWT gets the
    ///     `bearer ` prefix added. `nil` omits the header (certificate authentication).
    ///
    /// `apns-id` is sent lowercased (the canonical form), whatever case it was given in.
    public static func headers(
        for notification: APNsNotification,
        authority: String,
        authorization: String?
    ) -> [APNsHeaderField] {
        var fields: [APNsHeaderField] = []
        fields.reserveCapacity(11)
        fields.append(APNsHeaderField(name: ":method", value: "POST"))
        fields.append(APNsHeaderField(name: ":scheme", value: "https"))
        fields.append(APNsHeaderField(name: ":authority", value: authority))
        fields.append(APNsHeaderField(name: ":path", value: self.path(forDeviceToken: notification.deviceToken)))
        if let authorization {
            fields.append(APNsHeaderField(name: "authorization", value: bearerValue(authorization)))
        }
        fields.append(APNsHeaderField(name: "apns-push-type", value: notification.pushType.rawValue))
        fields.append(APNsHeaderField(name: "apns-topic", value: notification.topic))
        if let priority = notification.priority {
            fields.append(APNsHeaderField(name: "apns-priority", value: priority.headerValue))
        }
        if let expiration = notification.expiration {
            fields.append(APNsHeaderField(name: "apns-expiration", value: String(expiration)))
        }
        if let collapseID = notification.collapseID {
            fields.append(APNsHeaderField(name: "apns-collapse-id", value: collapseID))
        }
        if let apnsID = notification.apnsID {
            fields.append(APNsHeaderField(name: "apns-id", value: lowercasedASCII(apnsID)))
        }
        return fields
    }

    /// The `:path` for a device token: `/3/device/<token>`.
    public static func path(forDeviceToken deviceToken: String) -> String {
        self.pathPrefix + deviceToken
    }

    /// `value` if it already starts with `bearer ` (any case), else `"bearer " + value`.
    static func bearerValue(_ value: String) -> String {
        let prefix = "bearer ".utf8
        let head = value.utf8.prefix(prefix.count)
        if head.count == prefix.count
            && zip(head, prefix).allSatisfy({ $0 | 0x20 == $1 | 0x20 })
        {
            return value
        }
        return "bearer " + value
    }

    /// `value` with ASCII capitals lowercased; returns `value` itself when there are none.
    static func lowercasedASCII(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) else {
            return value
        }
        return String(decoding: value.utf8.map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 | 0x20 : $0 }, as: UTF8.self)
    }
}
