import Foundation
import NIOConcurrencyHelpers
import NIOCore

/// The broadcast channels the mock knows, by bundle ID: shared by every connection of one server, so a
/// channel created on one connection can be published to on another.
final class MockChannelStore: Sendable {
    /// Channel ID → message storage policy, by bundle ID.
    private let box = NIOLockedValueBox<[String: [String: Int]]>([:])

    /// The channels of a bundle ID (ID → storage policy).
    func channels(bundleID: String) -> [String: Int] {
        box.withLockedValue { $0[bundleID] ?? [:] }
    }

    /// The policy of a channel, or nil when the bundle has no such channel.
    func policy(bundleID: String, channelID: String) -> Int? {
        box.withLockedValue { $0[bundleID]?[channelID] }
    }

    /// Adds a channel unless the bundle has `limit` already; returns its new ID, or nil at the limit.
    func create(bundleID: String, policy: Int, limit: Int) -> String? {
        box.withLockedValue { all in
            guard all[bundleID, default: [:]].count < limit else { return nil }
            var id: String
            repeat {
                var generator = SystemRandomNumberGenerator()
                let bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
                id = Data(bytes).base64EncodedString()
            } while all[bundleID]?[id] != nil
            all[bundleID, default: [:]][id] = policy
            return id
        }
    }

    /// Removes a channel; returns whether it existed.
    func delete(bundleID: String, channelID: String) -> Bool {
        box.withLockedValue { $0[bundleID]?.removeValue(forKey: channelID) != nil }
    }
}

/// Checks broadcast pushes (`POST /4/broadcasts/apps/<bundle>`) and channel management requests
/// (`/1/apps/<bundle>/channels`, `/1/apps/<bundle>/all-channels`) like APNs does, and carries out the
/// management ones on the ``MockChannelStore``. Answers carry `apns-request-id` instead of `apns-id`.
///
/// Checks, the first failure wins: path, method, duplicated headers, provider token, bundle ID (unknown:
/// 403 TopicMismatch), broadcast enabled for the bundle (FeatureNotEnabled); then per request: for a
/// broadcast the push type (MissingPushType, InvalidPushType), the channel (MissingChannelId, BadChannelId,
/// ChannelNotRegistered), priority, expiration (a policy-0 channel takes only `0`: BadExpirationDate),
/// payload (PayloadEmpty, over 5,120 bytes PayloadTooLarge, not an object or a start event
/// BadRequestPayload); for a create the body (BadRequestPayload), its values (BadRequestParams) and the
/// channel limit (CannotCreateChannelConfig).
struct BroadcastValidator: Sendable {
    let tokens: RequestValidator
    let bundleIDs: Set<String>
    let disabledBundleIDs: Set<String>
    let maxChannels: Int
    let store: MockChannelStore

    /// The largest broadcast payload APNs takes.
    static let payloadLimit = 5120

    /// Which API a path belongs to.
    enum Endpoint: Equatable {
        case broadcast(bundleID: String)
        case channel(bundleID: String)
        case allChannels(bundleID: String)
        case unknown
    }

    /// Whether `path` is for this validator (broadcast or management) rather than `/3/device/`.
    static func handles(_ path: String?) -> Bool {
        guard let path else { return false }
        return path.hasPrefix("/4/broadcasts/") || path.hasPrefix("/1/apps/")
    }

    static func endpoint(_ path: String) -> Endpoint {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        // "", "4", "broadcasts", "apps", bundle  |  "", "1", "apps", bundle, "channels"
        if parts.count == 5, parts[1] == "4", parts[2] == "broadcasts", parts[3] == "apps", !parts[4].isEmpty {
            return .broadcast(bundleID: String(parts[4]))
        }
        if parts.count == 5, parts[1] == "1", parts[2] == "apps", !parts[3].isEmpty {
            if parts[4] == "channels" { return .channel(bundleID: String(parts[3])) }
            if parts[4] == "all-channels" { return .allChannels(bundleID: String(parts[3])) }
        }
        return .unknown
    }

    /// The answer to one broadcast or management request.
    func verdict(
        head: RequestHead, body: ByteBuffer?, bodyLength: Int, now: Int64, tokens cache: inout ConnectionTokenCache
    ) -> MockVerdict {
        var verdict = decide(head: head, body: body, bodyLength: bodyLength, now: now, tokens: &cache)
        verdict.idHeader = "apns-request-id"
        return verdict
    }

    private func decide(
        head: RequestHead, body: ByteBuffer?, bodyLength: Int, now: Int64, tokens cache: inout ConnectionTokenCache
    ) -> MockVerdict {
        let endpoint = Self.endpoint(head.path ?? "")
        let method = head.method ?? ""
        let bundleID: String
        switch endpoint {
        case .unknown:
            return .error(404, "BadPath")
        case .broadcast(let bundle):
            guard method == "POST" else { return .error(405, "MethodNotAllowed") }
            bundleID = bundle
        case .channel(let bundle):
            guard ["POST", "GET", "DELETE"].contains(method) else { return .error(405, "MethodNotAllowed") }
            bundleID = bundle
        case .allChannels(let bundle):
            guard method == "GET" else { return .error(405, "MethodNotAllowed") }
            bundleID = bundle
        }
        guard !head.hasDuplicateHeaders else { return .error(400, "DuplicateHeaders") }
        if let failure = tokens.checkProviderToken(head.authorization, now: now, tokens: &cache) {
            return failure
        }
        guard bundleIDs.contains(bundleID) else { return .error(403, "TopicMismatch") }
        guard !disabledBundleIDs.contains(bundleID) else { return .error(400, "FeatureNotEnabled") }

        switch endpoint {
        case .broadcast:
            return broadcast(head: head, body: body, bodyLength: bodyLength, bundleID: bundleID)
        case .allChannels:
            let ids = store.channels(bundleID: bundleID).keys.sorted()
            let list = ids.map { "\"\($0)\"" }.joined(separator: ",")
            return MockVerdict(status: 200, body: "{\"channels\":[\(list)]}")
        case .channel where method == "POST":
            return create(body: body, bodyLength: bodyLength, bundleID: bundleID)
        case .channel:
            let channelID: String
            switch existingChannel(head, bundleID: bundleID) {
            case .failure(let error): return error.verdict
            case .success(let found): channelID = found.id
            }
            if method == "DELETE" {
                return store.delete(bundleID: bundleID, channelID: channelID)
                    ? MockVerdict(status: 204) : .error(400, "ChannelNotRegistered")
            }
            let policy = store.policy(bundleID: bundleID, channelID: channelID) ?? 1
            return MockVerdict(
                status: 200, channelID: channelID,
                body: "{\"message-storage-policy\":\(policy),\"push-type\":\"LiveActivity\"}")
        case .unknown:
            return .error(404, "BadPath")
        }
    }

    private struct FoundChannel {
        var id: String
        var policy: Int
    }

    private func existingChannel(_ head: RequestHead, bundleID: String) -> Result<FoundChannel, VerdictError> {
        guard let channelID = head.channelID, !channelID.isEmpty else {
            return .failure(VerdictError(.error(400, "MissingChannelId")))
        }
        guard Self.isChannelID(channelID) else { return .failure(VerdictError(.error(400, "BadChannelId"))) }
        guard let policy = store.policy(bundleID: bundleID, channelID: channelID) else {
            return .failure(VerdictError(.error(400, "ChannelNotRegistered")))
        }
        return .success(FoundChannel(id: channelID, policy: policy))
    }

    private func broadcast(head: RequestHead, body: ByteBuffer?, bodyLength: Int, bundleID: String) -> MockVerdict {
        guard let pushType = head.pushType, !pushType.isEmpty else { return .error(400, "MissingPushType") }
        guard pushType == "liveactivity" else { return .error(400, "InvalidPushType") }
        let channel: FoundChannel
        switch existingChannel(head, bundleID: bundleID) {
        case .failure(let error): return error.verdict
        case .success(let found): channel = found
        }
        if let priority = head.priority, !["10", "5", "1"].contains(priority) {
            return .error(400, "BadPriority")
        }
        if let expiration = head.expiration {
            guard RequestValidator.isNonNegativeInteger(expiration) else { return .error(400, "BadExpirationDate") }
            // A channel that stores no messages takes only "try once, don't store".
            if channel.policy == 0 && expiration != "0" { return .error(400, "BadExpirationDate") }
        }
        guard bodyLength > 0, let body else { return .error(400, "PayloadEmpty") }
        guard bodyLength <= Self.payloadLimit else { return .error(413, "PayloadTooLarge") }
        guard let object = Self.object(body), let aps = object["aps"] as? [String: Any] else {
            return .error(400, "BadRequestPayload")
        }
        // A broadcast updates or ends subscribed activities; it cannot start one.
        if let event = aps["event"] as? String, event != "update" && event != "end" {
            return .error(400, "BadRequestPayload")
        }
        return .success
    }

    private func create(body: ByteBuffer?, bodyLength: Int, bundleID: String) -> MockVerdict {
        guard bodyLength > 0, let body, bodyLength <= 4096, let object = Self.object(body) else {
            return .error(400, "BadRequestPayload")
        }
        guard let number = object["message-storage-policy"] as? NSNumber,
            [0, 1].contains(number.doubleValue),
            object["push-type"] as? String == "LiveActivity"
        else {
            return .error(400, "BadRequestParams")
        }
        guard let id = store.create(bundleID: bundleID, policy: number.intValue, limit: maxChannels) else {
            return .error(400, "CannotCreateChannelConfig")
        }
        return MockVerdict(status: 201, channelID: id)
    }

    /// A channel ID as APNs makes them: base64 of some bytes.
    static func isChannelID(_ text: String) -> Bool {
        guard text.utf8.count <= 128, let data = Data(base64Encoded: text) else { return false }
        return !data.isEmpty
    }

    private static func object(_ body: ByteBuffer) -> [String: Any]? {
        let data = Data(body.readableBytesView)
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }

    private struct VerdictError: Error {
        var verdict: MockVerdict
        init(_ verdict: MockVerdict) { self.verdict = verdict }
    }
}
