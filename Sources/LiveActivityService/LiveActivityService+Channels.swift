import APNs
import APNsCore
import JSON
import LiveActivity
import NIOCore

extension LiveActivityService {
    /// The environment name channels are kept under: the app's client's (`production`, `sandbox`, `custom`).
    static func environment(of app: APNsApp) -> String {
        app.client.configuration.environment.name
    }

    /// `channel.create`: a new broadcast channel for an app (`storagePolicy` 1 by default), checked against the
    /// limit of channels per app and environment before APNs is asked; stored in the registry on success.
    func createChannel(_ request: inout RequestObject, into writer: inout JSONWriter) async throws(LiveActivityServiceError) {
        let app = try app(&request)
        let policy = try request.integer("storagePolicy") ?? 1
        try request.finish()
        guard policy == 0 || policy == 1 else {
            throw .badRequest(
                "\"storagePolicy\" \(policy) is not allowed: 0 (no message is stored; broadcasts take only expiration 0) "
                    + "or 1 (the most recent message is stored for devices that are offline)", field: "storagePolicy")
        }
        let environment = Self.environment(of: app)
        let bundleID = app.bundleID
        let count = try await withRegistry { try $0.channels(app: bundleID, environment: environment).count }
        guard count < configuration.maxChannelsPerApp else {
            throw LiveActivityServiceError(
                .tooManyChannels, "app \(RequestObject.shown(app.name)) has \(count) channels in \(environment); APNs "
                    + "allows at most \(configuration.maxChannelsPerApp) per app and environment: delete unused ones "
                    + "with channel.delete")
        }
        let result = await app.client.manageChannels(.create(bundleID: bundleID, storagePolicy: Int(policy)))
        if result.isSuccess, let channelID = result.channelID {
            let record = BroadcastChannelRecord(
                id: channelID, app: bundleID, environment: environment, storagePolicy: Int(policy), createdAt: clock())
            try await withRegistry { try $0.saveChannel(record) }
            setChannelCount(count + 1, app: bundleID, environment: environment)
            writer.string("channelId", channelID)
            writer.int("storagePolicy", Int(policy))
        }
        Self.write(result, into: &writer)
    }

    /// `channel.get`: APNs's record of one channel. `ChannelNotRegistered` retires the channel locally.
    func getChannel(_ request: inout RequestObject, into writer: inout JSONWriter) async throws(LiveActivityServiceError) {
        let app = try app(&request)
        let channelID = try Self.channelID(&request)
        try request.finish()
        let result = await app.client.manageChannels(.read(bundleID: app.bundleID, channelID: channelID))
        writer.string("channelId", channelID)
        if let policy = result.storagePolicy { writer.int("storagePolicy", policy) }
        Self.write(result, into: &writer)
        if result.apnsReason == .channelNotRegistered { try await retire(channelID, into: &writer) }
    }

    /// `channel.delete`: deletes a channel at APNs and forgets it (and every binding to it) locally; a channel APNs
    /// does not know is forgotten too.
    func deleteChannel(_ request: inout RequestObject, into writer: inout JSONWriter) async throws(LiveActivityServiceError) {
        let app = try app(&request)
        let channelID = try Self.channelID(&request)
        try request.finish()
        let result = await app.client.manageChannels(.delete(bundleID: app.bundleID, channelID: channelID))
        writer.string("channelId", channelID)
        Self.write(result, into: &writer)
        if result.isSuccess || result.apnsReason == .channelNotRegistered {
            try await retire(channelID, into: &writer)
            await countChannels(app: app.bundleID, environment: Self.environment(of: app))
        }
    }

    /// `channel.list`: every channel APNs has for the app, and how many the registry knows in this environment.
    func listChannels(_ request: inout RequestObject, into writer: inout JSONWriter) async throws(LiveActivityServiceError) {
        let app = try app(&request)
        try request.finish()
        let result = await app.client.manageChannels(.list(bundleID: app.bundleID))
        let bundleID = app.bundleID
        let environment = Self.environment(of: app)
        let known = try await withRegistry { try $0.channels(app: bundleID, environment: environment).count }
        setChannelCount(known, app: bundleID, environment: environment)
        writer.string("environment", environment)
        writer.int("known", known)
        if let channels = result.channels {
            writer.beginArray("channels")
            for channel in channels { writer.element(channel) }
            writer.endArray()
        }
        Self.write(result, into: &writer)
    }

    /// `channel.bind`: binds an activity or a stream to a channel (its updates and ends then go out as one
    /// broadcast), or unbinds it when `channelId` is null or absent.
    func bindChannel(_ request: inout RequestObject, into writer: inout JSONWriter) async throws(LiveActivityServiceError) {
        let subject = try Self.subject(&request, "the activity to bind")
        // Absent or null: unbind.
        var requested: String?
        if request.value("channelId") != nil { requested = try Self.channelID(&request) }
        let channelID = requested
        try request.finish()
        let now = clock()
        try await withRegistry { registry in
            if let channelID, try registry.channel(id: channelID) == nil {
                throw LiveActivityServiceError(
                    .unknownChannel, "channel \(RequestObject.shown(channelID)) is not known: create it with channel.create",
                    field: "channelId")
            }
            try registry.bind(subject, to: channelID, at: now)
        }
        if let channelID { writer.string("channelId", channelID) } else { writer.bool("unbound", true) }
    }

    /// Forgets a channel and its bindings; writes `"retired":true` when it was known.
    private func retire(_ channelID: String, into writer: inout JSONWriter) async throws(LiveActivityServiceError) {
        if try await withRegistry({ try $0.deleteChannel(id: channelID) }) {
            writer.bool("retired", true)
        }
    }

    /// Counts the registry's channels of an app and environment for ``channelCounts``.
    func countChannels(app bundleID: String, environment: String) async {
        guard let count = try? await withRegistry({ try $0.channels(app: bundleID, environment: environment).count }) else {
            return
        }
        setChannelCount(count, app: bundleID, environment: environment)
    }

    private func setChannelCount(_ count: Int, app bundleID: String, environment: String) {
        let name = app(forBundleID: bundleID)?.name ?? bundleID
        channelCountBox.withLockedValue { $0[ChannelCountKey(app: name, environment: environment)] = count }
    }

    /// `channelId`, required, checked like APNs would.
    static func channelID(_ request: inout RequestObject) throws(LiveActivityServiceError) -> String {
        let channelID = try request.requiredString("channelId", "the channel ID APNs returned at creation")
        if APNsBroadcast.channelIDProblem(channelID) != nil {
            throw .badRequest(
                "\"channelId\" \(RequestObject.shown(channelID)) is not a channel ID (base64 text as APNs returns it)",
                field: "channelId")
        }
        return channelID
    }

    /// `activityId` or `streamId`, exactly one.
    static func subject(_ request: inout RequestObject, _ purpose: String) throws(LiveActivityServiceError) -> ChannelSubject {
        switch try audience(&request, purpose) {
        case .activity(let id): return .activity(id)
        case .stream(let id): return .stream(id)
        case .channel: throw .badRequest("give \"activityId\" or \"streamId\"", field: "activityId")
        }
    }

    /// The members of an APNs answer: `status`, `reason`, `requestId`, `source`, `detail`.
    static func write(_ result: APNsChannelResult, into writer: inout JSONWriter) {
        if let status = result.status { writer.int("status", status) }
        if let reason = result.reason { writer.string("reason", reason) }
        if let requestID = result.requestID { writer.string("requestId", requestID) }
        writer.string("source", result.source.rawValue)
        if let detail = result.detail { writer.string("detail", detail) }
    }
}
