import APNs
import APNsCore
import LiveActivity
import JSON
import NIOCore

extension LiveActivityService {
    /// `activity.start`: a push-to-start push to the live tokens of some users, or to explicit tokens.
    func start(_ request: inout RequestObject, into writer: inout JSONWriter) async throws(LiveActivityServiceError) {
        let userIDs = try request.strings("userIds")
        let explicitTokens = try request.strings("tokens")
        let app = try app(&request)
        var payload = LiveActivityPayload(event: .start)
        payload.attributesType = try request.string("attributesType")
        payload.attributes = try request.rawObject("attributes")
        try readContent(&request, into: &payload)
        payload.inputPushToken = try request.bool("inputPushToken") ?? false
        payload.inputPushChannel = try request.string("inputPushChannel")
        // With a channel, the started activities can be bound under an activity or stream ID right away.
        let binding: ChannelSubject?
        if payload.inputPushChannel != nil && (request.has("activityId") || request.has("streamId")) {
            binding = try Self.subject(&request, "the activity the start subscribes")
        } else {
            binding = nil
        }
        let priority = try Self.priority(&request, default: .immediate)
        try request.finish()
        if let channelID = payload.inputPushChannel {
            if APNsBroadcast.channelIDProblem(channelID) != nil {
                throw .badRequest(
                    "\"inputPushChannel\" \(RequestObject.shown(channelID)) is not a channel ID (base64 text as APNs "
                        + "returns it)", field: "inputPushChannel")
            }
            let now = clock()
            try await withRegistry { registry in
                guard let channel = try registry.channel(id: channelID) else {
                    throw LiveActivityServiceError(
                        .unknownChannel, "channel \(RequestObject.shown(channelID)) is not known: create it with "
                            + "channel.create", field: "inputPushChannel")
                }
                guard channel.app == app.bundleID else {
                    throw LiveActivityServiceError(
                        .appMismatch, "channel \(RequestObject.shown(channelID)) belongs to \(RequestObject.shown(channel.app)), "
                            + "not to app \(RequestObject.shown(app.name))", field: "inputPushChannel")
                }
                if let binding { try registry.bind(binding, to: channelID, at: now) }
            }
            writer.string("channelId", channelID)
            switch binding {
            case .activity(let id)?: writer.string("activityId", id)
            case .stream(let id)?: writer.string("streamId", id)
            case nil: break
            }
        }
        guard payload.attributesType != nil else {
            throw .badRequest(
                "missing \"attributesType\": a start push needs the name of the app's ActivityAttributes type",
                field: "attributesType")
        }
        guard payload.attributes != nil else {
            throw .badRequest("missing \"attributes\": a start push needs the activity's static values as a JSON object",
                field: "attributes")
        }
        guard payload.contentState != nil else {
            throw .badRequest("missing \"contentState\": a start push needs the initial content as a JSON object",
                field: "contentState")
        }
        guard payload.alert != nil else {
            throw .badRequest("missing \"alert\": a start push needs an alert with a title or body", field: "alert")
        }
        let bytes = try encode(payload)

        var targets: [PushTarget] = []
        switch (userIDs, explicitTokens) {
        case (let userIDs?, nil):
            var seen = Set<String>()
            let users = userIDs.filter { seen.insert($0).inserted }
            guard !users.isEmpty else { throw .badRequest("\"userIds\" is empty", field: "userIds") }
            guard users.count <= configuration.maxUsersPerStart else {
                throw LiveActivityServiceError(
                    .tooManyUsers, "\(users.count) user ids; at most \(configuration.maxUsersPerStart) are allowed per "
                        + "activity.start (liveActivities.maxUsersPerStart); split the request", field: "userIds")
            }
            for (index, user) in users.enumerated() {
                try RequestObject.checkIdentifier(user, field: "userIds[\(index)]")
            }
            let bundleID = app.bundleID
            let records = try await withRegistry { try $0.allPushToStartTokens(forUsers: users, app: bundleID) }
            var withLiveToken = Set<String>()
            for record in records {
                if !record.isDead { withLiveToken.insert(record.userID) }
                targets.append(PushTarget(
                    token: record.token, bundleID: record.registration.app, environment: record.registration.environment,
                    deviceID: record.registration.deviceID, userID: record.userID, isDead: record.isDead,
                    deadReason: record.deadReason))
            }
            writer.string("event", "start")
            writer.int("users", users.count)
            writer.beginArray("usersWithoutTokens")
            for user in users where !withLiveToken.contains(user) { writer.element(user) }
            writer.endArray()
        case (nil, let tokens?):
            var seen = Set<String>()
            var list: [String] = []
            for (index, token) in tokens.enumerated() {
                let normalized = try Self.checkedToken(token, field: "tokens[\(index)]")
                if seen.insert(normalized).inserted { list.append(normalized) }
            }
            guard !list.isEmpty else { throw .badRequest("\"tokens\" is empty", field: "tokens") }
            guard list.count <= configuration.maxTokensPerStart else {
                throw LiveActivityServiceError(
                    .tooManyTokens, "\(list.count) tokens; at most \(configuration.maxTokensPerStart) are allowed per "
                        + "activity.start (liveActivities.maxTokensPerStart); split the request", field: "tokens")
            }
            let candidates = list
            let dead = try await withRegistry { try $0.deadTokens(among: candidates) }
            targets = list.map { PushTarget(token: $0, bundleID: app.bundleID, isDead: dead.contains($0)) }
            writer.string("event", "start")
        case (.some, .some):
            throw .badRequest("give \"userIds\" or \"tokens\", not both", field: "tokens")
        case (nil, nil):
            throw .badRequest(
                "missing \"userIds\" (users whose push-to-start tokens are registered) or \"tokens\" (push-to-start "
                    + "tokens) for activity.start", field: "userIds")
        }
        let report = await fanOut(payload: bytes, priority: priority, event: .start, targets: targets)
        report.write(into: &writer)
    }

    /// `activity.update`: new content for every live token of an activity, or of every activity in a stream.
    func update(_ request: inout RequestObject, into writer: inout JSONWriter) async throws(LiveActivityServiceError) {
        let audience = try Self.audience(&request, "the activity to update", channels: true)
        var payload = LiveActivityPayload(event: .update)
        try readContent(&request, into: &payload)
        payload.dismissalDate = try request.date("dismissalDate")
        let priority = try Self.priority(&request, default: .conserve)
        let expiration = try Self.expiration(&request)
        try request.finish()
        guard payload.contentState != nil else {
            throw .badRequest("missing \"contentState\": an update needs the new content as a JSON object",
                field: "contentState")
        }
        let bytes = try encode(payload)
        try await push(bytes, priority: priority, expiration: expiration, event: .update, to: audience, into: &writer)
    }

    /// `activity.end`: the final content (required), and when the activity leaves the Lock Screen; for one
    /// activity or every activity in a stream.
    func end(_ request: inout RequestObject, into writer: inout JSONWriter) async throws(LiveActivityServiceError) {
        let audience = try Self.audience(&request, "the activity to end", channels: true)
        var payload = LiveActivityPayload(event: .end)
        try readContent(&request, into: &payload)
        let now = clock()
        payload.dismissalDate = try Self.dismissal(&request, now: payload.timestamp ?? now)
        let priority = try Self.priority(&request, default: .immediate)
        let expiration = try Self.expiration(&request)
        try request.finish()
        guard payload.contentState != nil else { throw Self.missingFinalContent }
        let bytes = try encode(payload, now: now)
        try await push(bytes, priority: priority, expiration: expiration, event: .end, to: audience, into: &writer)
    }

    /// An end (`activity.end`, `activity.schedule_end`) without `contentState`: APNs wants the final content with
    /// every end push, and refuses one without it.
    static let missingFinalContent = LiveActivityServiceError.badRequest(
        "missing \"contentState\": an end needs the final content as a JSON object (APNs requires \"content-state\" "
            + "with an end push)", field: "contentState")

    /// Who an update or end goes to: one activity (`activityId`), every activity in a stream (`streamId`), or
    /// every activity subscribed to a broadcast channel (`channelId`).
    enum Audience {
        case activity(String)
        case stream(String)
        case channel(String)
    }

    static func audience(
        _ request: inout RequestObject, _ purpose: String, channels: Bool = false
    ) throws(LiveActivityServiceError) -> Audience {
        let activityID = try request.identifier("activityId")
        let streamID = try request.identifier("streamId")
        var channelID: String?
        if channels && request.has("channelId") { channelID = try Self.channelID(&request) }
        switch (activityID, streamID, channelID) {
        case (let activityID?, nil, nil): return .activity(activityID)
        case (nil, let streamID?, nil): return .stream(streamID)
        case (nil, nil, let channelID?): return .channel(channelID)
        case (nil, nil, nil):
            throw .badRequest(
                "missing \"activityId\" (\(purpose)) or \"streamId\" (every activity registered with that stream)"
                    + (channels ? " or \"channelId\" (every activity subscribed to that broadcast channel)" : ""),
                field: "activityId")
        default:
            throw .badRequest(
                channels ? "give one of \"activityId\", \"streamId\" and \"channelId\"" : "give \"activityId\" or \"streamId\", not both",
                field: channelID != nil ? "channelId" : "streamId")
        }
    }

    /// `expiration` (epoch seconds, `0`: try once, store nothing): broadcasts only.
    static func expiration(_ request: inout RequestObject) throws(LiveActivityServiceError) -> Int64? {
        guard let expiration = try request.integer("expiration") else { return nil }
        guard expiration >= 0 else {
            throw LiveActivityServiceError(.badExpiration, "\"expiration\" \(expiration) is negative", field: "expiration")
        }
        return expiration
    }

    /// Sends a payload to every registered token of an activity or a stream (dead ones are listed as skipped).
    func push(
        _ payload: ByteBuffer, priority: APNsPriority, expiration: Int64? = nil, event: LiveActivityEvent,
        to audience: Audience, into writer: inout JSONWriter
    ) async throws(LiveActivityServiceError) {
        // An activity or stream bound to a channel gets one broadcast instead of a fan-out.
        if let channelID = try await boundChannel(audience) {
            return try await broadcast(
                payload, priority: priority, expiration: expiration, event: event, channelID: channelID, for: audience,
                into: &writer)
        }
        if expiration != nil {
            throw .badRequest(
                "\"expiration\" applies to broadcasts only: give \"channelId\", or bind the activity or stream to a "
                    + "channel with channel.bind", field: "expiration")
        }
        let targets: [PushTarget]
        var skipped: [Int: SkipReason] = [:]
        switch audience {
        case .channel:
            preconditionFailure("a channel audience is always broadcast")
        case .activity(let activityID):
            let isUpdate = event == .update
            let (records, endedAt) = try await withRegistry { registry -> ([ActivityTokenRecord], Int64?) in
                let records = try registry.allTokens(forActivity: activityID)
                guard isUpdate else { return (records, nil) }
                return (records, try registry.endedActivities(among: [activityID])[activityID])
            }
            if let endedAt {
                throw LiveActivityServiceError(
                    .activityEnded, "activity \(RequestObject.shown(activityID)) ended at \(endedAt) (an end push reached a "
                        + "device); APNs ignores updates to an ended activity, and at priority 10 they still count "
                        + "against the hourly budget", field: "activityId")
            }
            guard !records.isEmpty else {
                throw LiveActivityServiceError(
                    .unknownActivity, "no token is registered for activity \(RequestObject.shown(activityID)); register "
                        + "one with activity.register first", field: "activityId")
            }
            targets = records.map { Self.target($0) }
            writer.string("activityId", activityID)
        case .stream(let streamID):
            let isUpdate = event == .update
            let (records, ended) = try await withRegistry { registry -> ([ActivityTokenRecord], [String: Int64]) in
                let records = try registry.allTokens(forStream: streamID)
                guard isUpdate, !records.isEmpty else { return (records, [:]) }
                return (records, try registry.endedActivities(among: Array(Set(records.map(\.activityID)))))
            }
            for (index, record) in records.enumerated() where ended[record.activityID] != nil {
                skipped[index] = .activityEnded
            }
            guard !records.isEmpty else {
                throw LiveActivityServiceError(
                    .unknownStream, "no token is registered with stream \(RequestObject.shown(streamID)); give "
                        + "\"streamId\" in activity.register first", field: "streamId")
            }
            guard records.count <= configuration.maxTokensPerStart else {
                throw LiveActivityServiceError(
                    .tooManyTokens, "stream \(RequestObject.shown(streamID)) has \(records.count) tokens; at most "
                        + "\(configuration.maxTokensPerStart) are sent per request (liveActivities.maxTokensPerStart): "
                        + "split the stream", field: "streamId")
            }
            targets = records.map { Self.target($0, withActivity: true) }
            writer.string("streamId", streamID)
            writer.int("activities", Set(records.map(\.activityID)).count)
        }
        writer.string("event", event.rawValue)
        let report = await fanOut(payload: payload, priority: priority, event: event, targets: targets, skipped: skipped)
        report.write(into: &writer)
    }

    static func target(_ record: ActivityTokenRecord, withActivity: Bool = false) -> PushTarget {
        PushTarget(
            token: record.token, bundleID: record.registration.app, environment: record.registration.environment,
            deviceID: record.deviceID, activityID: withActivity ? record.activityID : nil, activity: record.activityID,
            isDead: record.isDead, deadReason: record.deadReason)
    }

    // MARK: Fields shared by the push ops

    /// `contentState`, `alert`, `staleDate`, `relevanceScore`, `timestamp`.
    func readContent(_ request: inout RequestObject, into payload: inout LiveActivityPayload) throws(LiveActivityServiceError) {
        payload.contentState = try request.rawObject("contentState")
        payload.alert = try Self.alert(&request)
        payload.staleDate = try request.date("staleDate")
        payload.relevanceScore = try request.number("relevanceScore")
        payload.timestamp = try request.date("timestamp")
    }

    func encode(_ payload: LiveActivityPayload, now: Int64? = nil) throws(LiveActivityServiceError) -> ByteBuffer {
        do {
            return try payload.encode(now: now ?? clock())
        } catch {
            throw .payload(error)
        }
    }

    /// `priority`: 5 or 10.
    static func priority(_ request: inout RequestObject, default value: APNsPriority) throws(LiveActivityServiceError)
        -> APNsPriority
    {
        guard let number = try request.integer("priority") else { return value }
        switch number {
        case 5: return .conserve
        case 10: return .immediate
        default:
            throw LiveActivityServiceError(
                .badPriority, "priority \(number) is not allowed: Live Activity pushes take 5 (delivered when the "
                    + "device sees fit) or 10 (at once, counted against the app's hourly budget)", field: "priority")
        }
    }

    /// `dismissalDate` of an end: `"now"`, a date, or absent (the system's default, up to four hours).
    static func dismissal(_ request: inout RequestObject, now: Int64) throws(LiveActivityServiceError) -> Int64? {
        guard let value = request.value("dismissalDate") else { return nil }
        if value.string == "now" { return now }
        return try RequestObject.date(value, field: "dismissalDate")
    }

    /// `alert`: `{"title":..., "body":..., "sound":...}`; a title or body is a string or
    /// `{"locKey":..., "locArgs":[...]}`.
    static func alert(_ request: inout RequestObject) throws(LiveActivityServiceError) -> LiveActivityAlert? {
        guard var fields = try request.object("alert") else { return nil }
        let alert = LiveActivityAlert(
            title: try text(&fields, "title"), body: try text(&fields, "body"), sound: try fields.string("sound"))
        if let unknown = fields.firstUnread {
            throw .badRequest("unknown field in \"alert\": \(RequestObject.shown(unknown)) (check its spelling)", field: "alert")
        }
        guard alert.title != nil || alert.body != nil else {
            throw LiveActivityServiceError(.invalidPayload, "\"alert\" needs a \"title\" or a \"body\"", field: "alert")
        }
        return alert
    }

    private static func text(_ fields: inout RequestObject, _ name: String) throws(LiveActivityServiceError)
        -> LiveActivityAlert.Text?
    {
        guard let value = fields.value(name) else { return nil }
        if let string = value.string {
            guard !string.isEmpty else { throw .badRequest("\"alert.\(name)\" is empty", field: "alert.\(name)") }
            return .plain(string)
        }
        guard let object = value.object else {
            throw .badRequest(
                "\"alert.\(name)\" must be a string or {\"locKey\":..., \"locArgs\":[...]}, not \(value.kind.described)",
                field: "alert.\(name)")
        }
        var localized = RequestObject(fields: JSONFields(object, path: "alert.\(name)"), op: "alert.\(name)")
        guard let key = try? localized.string("locKey") else {
            throw .badRequest("\"alert.\(name).locKey\" must be a non-empty string", field: "alert.\(name)")
        }
        guard let arguments = try? localized.strings("locArgs") ?? [] else {
            throw .badRequest("\"alert.\(name).locArgs\" must be an array of strings", field: "alert.\(name)")
        }
        do {
            try localized.finish()
        } catch {
            throw .badRequest("\"alert.\(name)\" takes only \"locKey\" and \"locArgs\"", field: "alert.\(name)")
        }
        return .localized(key: key, arguments: arguments)
    }
}
