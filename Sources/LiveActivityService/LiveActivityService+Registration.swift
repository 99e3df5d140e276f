import JSON
import LiveActivity

extension LiveActivityService {
    /// `activity.register`: an activity's update token on one device.
    func register(_ request: inout RequestObject, into writer: inout JSONWriter) async throws(LiveActivityServiceError) {
        let activityID = try request.requiredIdentifier("activityId", "the activity's id")
        let deviceID = try request.requiredIdentifier("deviceId", "the device's id")
        let token = try Self.token(&request)
        let streamID = try request.identifier("streamId")
        let app = try app(&request)
        let environment = try environment(&request)
        try request.finish()
        let registration = ActivityTokenRegistration(
            activityID: activityID, deviceID: deviceID, token: token, streamID: streamID, app: app.bundleID,
            environment: environment)
        let now = clock()
        let outcome = try await withRegistry { try $0.register(registration, at: now) }
        Self.write(outcome, into: &writer)
    }

    /// `activity.unregister`: by activity (one device or all), or by token (both kinds).
    func unregister(_ request: inout RequestObject, into writer: inout JSONWriter) async throws(LiveActivityServiceError) {
        let activityID = try request.identifier("activityId")
        let deviceID = try request.identifier("deviceId")
        let token = request.has("token") ? try Self.token(&request) : nil
        try request.finish()
        let removed: Int
        switch (activityID, token) {
        case (let activityID?, nil):
            removed = try await withRegistry { try $0.unregister(activityID: activityID, deviceID: deviceID) }
        case (nil, let token?):
            guard deviceID == nil else {
                throw .badRequest("\"deviceId\" goes with \"activityId\", not with \"token\"", field: "deviceId")
            }
            removed = try await withRegistry { try $0.unregister(token: token) }
        case (.some, .some):
            throw .badRequest("give \"activityId\" (and optionally \"deviceId\") or \"token\", not both", field: "token")
        case (nil, nil):
            throw .badRequest("missing \"activityId\" or \"token\" for activity.unregister", field: "activityId")
        }
        writer.int("removed", removed)
    }

    /// `activity.register_push_to_start`: a user's push-to-start token on one device.
    func registerPushToStart(_ request: inout RequestObject, into writer: inout JSONWriter) async
        throws(LiveActivityServiceError)
    {
        let userID = try request.requiredIdentifier("userId", "the user the token belongs to")
        let deviceID = try request.requiredIdentifier("deviceId", "the device's id")
        let token = try Self.token(&request)
        let app = try app(&request)
        let environment = try environment(&request)
        try request.finish()
        let registration = PushToStartRegistration(
            userID: userID, deviceID: deviceID, token: token, app: app.bundleID, environment: environment)
        let now = clock()
        let outcome = try await withRegistry { try $0.registerPushToStart(registration, at: now) }
        Self.write(outcome, into: &writer)
    }

    /// `activity.unregister_push_to_start`.
    func unregisterPushToStart(_ request: inout RequestObject, into writer: inout JSONWriter) async
        throws(LiveActivityServiceError)
    {
        let userID = try request.requiredIdentifier("userId", "the user the token belongs to")
        let deviceID = try request.requiredIdentifier("deviceId", "the device's id")
        let app = try app(&request)
        try request.finish()
        let removed = try await withRegistry {
            try $0.unregisterPushToStart(userID: userID, deviceID: deviceID, app: app.bundleID)
        }
        writer.int("removed", removed ? 1 : 0)
    }

    // MARK: Fields

    /// `token`: required, even number of hex digits; returned lowercased.
    static func token(_ request: inout RequestObject, field: String = "token") throws(LiveActivityServiceError) -> String {
        let token = try request.requiredString(field, "the push token, hex")
        return try checkedToken(token, field: field)
    }

    static func checkedToken(_ token: String, field: String) throws(LiveActivityServiceError) -> String {
        do {
            return try RegistryInput.normalizedToken(token, field: field)
        } catch {
            throw LiveActivityServiceError(.badToken, error.description, field: field)
        }
    }

    private func environment(_ request: inout RequestObject) throws(LiveActivityServiceError) -> TokenEnvironment {
        guard let name = try request.string("environment") else { return configuration.defaultTokenEnvironment }
        guard let environment = TokenEnvironment(rawValue: name) else {
            throw .badRequest(
                "\"environment\" must be \"production\" or \"development\" (the app's aps-environment), not "
                    + RequestObject.shown(name), field: "environment")
        }
        return environment
    }

    private static func write(_ outcome: RegistrationOutcome, into writer: inout JSONWriter) {
        switch outcome {
        case .created: writer.string("registered", "created")
        case .unchanged: writer.string("registered", "unchanged")
        case .updated: writer.string("registered", "updated")
        case .revived: writer.string("registered", "revived")
        case .replaced(let oldToken):
            writer.string("registered", "replaced")
            writer.string("replacedToken", redacted(oldToken))
        case .stillDead(let since):
            writer.string("registered", "stillDead")
            writer.int("deadSince", since)
        }
    }
}
