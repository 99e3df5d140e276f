import APNs
import APNsCore
import JSON
import LiveActivity
import NIOCore

extension LiveActivityService {
    /// The channel an update or end goes to as one broadcast: the one named, or the one the activity or stream is
    /// bound to; nil for a fan-out.
    func boundChannel(_ audience: Audience) async throws(LiveActivityServiceError) -> String? {
        switch audience {
        case .channel(let channelID):
            return channelID
        case .activity(let activityID):
            return try await withRegistry { try $0.boundChannel(of: .activity(activityID)) }
        case .stream(let streamID):
            return try await withRegistry { try $0.boundChannel(of: .stream(streamID)) }
        }
    }

    /// Sends one broadcast to a channel the registry knows, through the client of the channel's app, and writes
    /// `"channelId"`, `"event"` and the `"broadcast"` result. A policy-0 channel takes only expiration 0 (sent as
    /// `apns-expiration: 0` when none is given). `ChannelNotRegistered` retires the channel and its bindings.
    func broadcast(
        _ payload: ByteBuffer, priority: APNsPriority, expiration: Int64?, event: LiveActivityEvent, channelID: String,
        for audience: Audience, into writer: inout JSONWriter
    ) async throws(LiveActivityServiceError) {
        guard let channel = try await withRegistry({ try $0.channel(id: channelID) }) else {
            throw LiveActivityServiceError(
                .unknownChannel, "channel \(RequestObject.shown(channelID)) is not known: create it with channel.create",
                field: "channelId")
        }
        guard let app = app(forBundleID: channel.app) else {
            throw LiveActivityServiceError(
                .unknownApp, "channel \(RequestObject.shown(channelID)) belongs to \(RequestObject.shown(channel.app)), "
                    + "which no configured app has", field: "channelId")
        }
        var sentExpiration = expiration
        if channel.storagePolicy == 0 {
            if let expiration, expiration != 0 {
                throw LiveActivityServiceError(
                    .badExpiration, "channel \(RequestObject.shown(channelID)) stores no messages (storage policy 0): it "
                        + "takes only expiration 0, not \(expiration)", field: "expiration")
            }
            sentExpiration = 0
        }
        switch audience {
        case .activity(let activityID): writer.string("activityId", activityID)
        case .stream(let streamID): writer.string("streamId", streamID)
        case .channel: break
        }
        writer.string("channelId", channelID)
        writer.string("event", event.rawValue)
        let result = await app.client.broadcast(APNsBroadcast(
            bundleID: app.bundleID, channelID: channelID, payload: payload, priority: priority, expiration: sentExpiration))
        writer.beginObject("broadcast")
        if let status = result.status { writer.int("status", status) }
        if let reason = result.reason { writer.string("reason", reason) }
        if let requestID = result.requestID { writer.string("requestId", requestID) }
        writer.string("source", result.source.rawValue)
        if let detail = result.detail { writer.string("detail", detail) }
        if result.retriedAfterUnknownOutcome { writer.bool("maybeDuplicate", true) }
        writer.endObject()
        if result.apnsReason == .channelNotRegistered {
            // Like a 410 for a token: the channel is gone at APNs, so its bindings go too.
            if try await withRegistry({ try $0.deleteChannel(id: channelID) }) {
                writer.bool("retired", true)
                await countChannels(app: channel.app, environment: channel.environment)
            }
        }
    }
}
