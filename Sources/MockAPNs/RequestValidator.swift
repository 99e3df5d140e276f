import NIOCore

/// What the mock answers to one request: `:status`, and for errors the `reason` (plus the
/// `timestamp` of a 410).
struct MockVerdict: Equatable {
    var status: Int
    var reason: String?
    var timestamp: Int64?
    /// The response header that carries the request's id: `apns-id` for pushes, `apns-request-id` for
    /// broadcasts and channel management.
    var idHeader = "apns-id"
    /// `apns-channel-id` of a created or read channel.
    var channelID: String?
    /// A JSON body for a success (a channel read or the channel list).
    var body: String?

    static let success = MockVerdict(status: 200)

    static func error(_ status: Int, _ reason: String, timestamp: Int64? = nil) -> MockVerdict {
        MockVerdict(status: status, reason: reason, timestamp: timestamp)
    }
}

/// The APNs push types and the topic suffix each needs (apns-provider-api.md §1).
enum MockPushType {
    static let topicSuffixes: [String: String] = [
        "alert": "",
        "background": "",
        "mdm": "",
        "liveactivity": ".push-type.liveactivity",
        "voip": ".voip",
        "complication": ".complication",
        "fileprovider": ".pushkit.fileprovider",
        "location": ".location-query",
        "pushtotalk": ".voip-ptt",
        "widgets": ".push-type.widgets",
        "controls": ".push-type.controls",
    ]

    static let liveActivitySuffix = ".push-type.liveactivity"
    static let regularPayloadLimit = 4096
    static let voipPayloadLimit = 5120
}

/// Checks a request like APNs does and decides the answer. Written on its own, not shared with the
/// gateway's client-side validation, so that one mistake can't hide in both.
///
/// The checks run in this order, the first failure wins: method, path, device token, duplicated
/// headers, `apns-id`, provider token, push type, topic, priority, expiration, collapse id, payload
/// (for Live Activity pushes also: an end carries `content-state`), unregistered token.
struct RequestValidator: Sendable {
    /// `nil` in certificate mode: then `authorization` is ignored.
    let verifier: ProviderTokenVerifier?
    /// Every accepted topic, mapped to its suffix ("" for the bare bundle id).
    let topics: [String: String]
    /// Unregistered device tokens, lowercased, with their 410 timestamps.
    let unregistered: [String: Int64]
    let tokenMaxAge: Int64
    let tokenMaxClockSkew: Int64

    init(configuration: MockAPNsConfiguration, verifier: ProviderTokenVerifier?) {
        self.verifier = verifier
        var topics: [String: String] = [:]
        let suffixes = Set(MockPushType.topicSuffixes.values)
        for bundle in configuration.bundleIDs {
            for suffix in suffixes where topics[bundle + suffix] == nil {
                topics[bundle + suffix] = suffix
            }
        }
        // A bundle id that itself ends like a suffix is still a bare bundle id.
        for bundle in configuration.bundleIDs {
            topics[bundle] = ""
        }
        self.topics = topics
        var unregistered: [String: Int64] = [:]
        for (token, timestamp) in configuration.unregisteredTokens {
            unregistered[token.lowercased()] = timestamp
        }
        self.unregistered = unregistered
        self.tokenMaxAge = Int64(configuration.tokenMaxAge)
        self.tokenMaxClockSkew = Int64(configuration.tokenMaxClockSkew)
    }

    /// The answer to a request.
    ///
    /// - Parameters:
    ///   - head: the request's headers.
    ///   - body: the body (possibly cut short; `bodyLength` is the full length).
    ///   - bodyLength: the number of body bytes received.
    ///   - now: seconds since the epoch.
    ///   - tokens: the connection's provider-token cache.
    func verdict(
        head: RequestHead,
        body: ByteBuffer?,
        bodyLength: Int,
        now: Int64,
        tokens: inout ConnectionTokenCache
    ) -> MockVerdict {
        guard head.method == "POST" else { return .error(405, "MethodNotAllowed") }
        guard let token = head.deviceToken else { return .error(404, "BadPath") }
        guard !token.isEmpty else { return .error(400, "MissingDeviceToken") }
        guard Self.isHexToken(token) else { return .error(400, "BadDeviceToken") }
        guard !head.hasDuplicateHeaders else { return .error(400, "DuplicateHeaders") }
        if let apnsID = head.apnsID, !UUIDText.isCanonical(apnsID) {
            return .error(400, "BadMessageId")
        }
        if let failure = self.checkProviderToken(head.authorization, now: now, tokens: &tokens) {
            return failure
        }

        var expectedSuffix: String?
        if let pushType = head.pushType {
            guard let suffix = MockPushType.topicSuffixes[pushType] else { return .error(400, "InvalidPushType") }
            expectedSuffix = suffix
        }
        guard let topic = head.topic, !topic.isEmpty else { return .error(400, "MissingTopic") }
        guard let topicSuffix = self.topics[topic] else { return .error(400, "TopicDisallowed") }
        // Without apns-push-type, any known suffix is taken to say the type.
        if let expectedSuffix, expectedSuffix != topicSuffix {
            return .error(400, "BadTopic")
        }

        if let priority = head.priority {
            guard priority == "10" || priority == "5" || priority == "1" else { return .error(400, "BadPriority") }
            if priority == "10" && head.pushType == "background" {
                return .error(400, "BadPriority")
            }
        }
        if let expiration = head.expiration, !Self.isNonNegativeInteger(expiration) {
            return .error(400, "BadExpirationDate")
        }
        if let collapseID = head.collapseID, collapseID.utf8.count > 64 {
            return .error(400, "BadCollapseId")
        }

        guard bodyLength > 0, let body else { return .error(400, "PayloadEmpty") }
        let limit =
            topicSuffix == ".voip" ? MockPushType.voipPayloadLimit : MockPushType.regularPayloadLimit
        guard bodyLength <= limit else { return .error(413, "PayloadTooLarge") }
        let isObject = body.withUnsafeReadableBytes { JSONObjectCheck.isObject($0) }
        guard isObject else { return .error(400, "BadPayload") }
        // APNs wants the final content with an end (apns-provider-api.md §5). The reason is the mock's
        // own, as for malformed JSON: Apple documents none for either.
        if topicSuffix == MockPushType.liveActivitySuffix {
            let endWithoutContent = body.withUnsafeReadableBytes { LiveActivityPayloadCheck.isEndWithoutContentState($0) }
            if endWithoutContent { return .error(400, "BadPayload") }
        }

        if !self.unregistered.isEmpty, let timestamp = self.unregistered[token.lowercased()] {
            return .error(410, "Unregistered", timestamp: timestamp)
        }
        return .success
    }

    /// `nil` when the provider token is acceptable (or not needed), else the error to answer.
    func checkProviderToken(
        _ authorization: String?,
        now: Int64,
        tokens: inout ConnectionTokenCache
    ) -> MockVerdict? {
        guard let verifier = self.verifier else { return nil }
        guard let authorization, let jwt = Self.bearerToken(authorization) else {
            return .error(403, "MissingProviderToken")
        }
        switch tokens.verdict(for: jwt, verifier: verifier) {
        case .invalid:
            return .error(403, "InvalidProviderToken")
        case .valid(let issuedAt, let keyID):
            if issuedAt > now + self.tokenMaxClockSkew {
                return .error(403, "InvalidProviderToken")
            }
            if now - issuedAt > self.tokenMaxAge {
                return .error(403, "ExpiredProviderToken")
            }
            tokens.acceptedKeyID = keyID
            return nil
        }
    }

    /// The JWT in `bearer <jwt>` (scheme case-insensitive), or `nil` when it isn't one.
    static func bearerToken(_ authorization: String) -> Substring? {
        let scheme: StaticString = "bearer "
        let utf8 = authorization.utf8
        guard utf8.count > scheme.utf8CodeUnitCount else { return nil }
        // ASCII case folding: OR-ing 0x20 lowercases letters and leaves the space alone.
        for (offset, byte) in utf8.prefix(scheme.utf8CodeUnitCount).enumerated()
        where byte | 0x20 != scheme.utf8Start[offset] {
            return nil
        }
        let token = authorization.dropFirst(scheme.utf8CodeUnitCount).drop(while: { $0 == " " })
        return token.isEmpty ? nil : token
    }

    /// Non-empty, an even number of hexadecimal digits.
    static func isHexToken(_ token: Substring) -> Bool {
        var count = 0
        for byte in token.utf8 {
            guard byte.isHexDigit else { return false }
            count += 1
        }
        return count > 0 && count % 2 == 0
    }

    /// One or more decimal digits that fit an Int64.
    static func isNonNegativeInteger(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy(\.isDigit) && Int64(text) != nil
    }
}
