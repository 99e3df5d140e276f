import APNsCore

/// Checks and normalisation of registry input, shared by every registry implementation.
public enum RegistryInput {
    /// The longest identifier (activity, device, user, stream, app, schedule ID, death reason)
    /// accepted, in bytes of UTF-8.
    public static let maxIdentifierLength = 256

    /// Checks an identifier: non-empty, at most ``maxIdentifierLength`` bytes, no control
    /// characters.
    /// The identifiers in `values`, each checked (``checkIdentifier(_:field:)``), without repeats, in first-seen order.
    public static func distinctIdentifiers(_ values: [String], field: String) throws(LiveActivityRegistryError) -> [String] {
        var seen = Set<String>()
        var distinct: [String] = []
        for value in values where seen.insert(value).inserted {
            try checkIdentifier(value, field: field)
            distinct.append(value)
        }
        return distinct
    }

    public static func checkIdentifier(_ value: String, field: String) throws(LiveActivityRegistryError) {
        let count = value.utf8.count
        guard count > 0 else {
            throw .badIdentifier(field: field, problem: "is empty")
        }
        guard count <= maxIdentifierLength else {
            throw .badIdentifier(field: field, problem: "is \(count) bytes; at most \(maxIdentifierLength) are allowed")
        }
        if let offset = value.utf8.firstIndex(where: { $0 < 0x20 || $0 == 0x7F }) {
            let position = value.utf8.distance(from: value.utf8.startIndex, to: offset)
            throw .badIdentifier(field: field, problem: "has a control character at offset \(position)")
        }
    }

    /// Checks a token (even number of hex digits, like a device token) and returns it lowercased.
    public static func normalizedToken(_ token: String, field: String = "token") throws(LiveActivityRegistryError) -> String {
        do {
            try APNsNotification.validateDeviceToken(token)
        } catch {
            throw .badToken("\(field): \(error.message)")
        }
        return token.lowercased()
    }

    /// Checks that a time is not negative.
    public static func checkTime(_ value: Int64, field: String) throws(LiveActivityRegistryError) {
        if value < 0 {
            throw .badTime(field: field, value: value)
        }
    }

    /// The first 8 characters of a token, quoted, then `…`: enough to recognise it in a message.
    package static func redacted(_ token: String) -> String {
        token.utf8.count > 8 ? "\"\(token.prefix(8))…\"" : "\"\(token)\""
    }

    /// 32 random hex digits, for generated schedule IDs.
    package static func randomID() -> String {
        var generator = SystemRandomNumberGenerator()
        let digits = Array("0123456789abcdef".utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        for _ in 0..<2 {
            var word = generator.next() as UInt64
            for _ in 0..<16 {
                bytes.append(digits[Int(word & 0xF)])
                word >>= 4
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension ActivityTokenRegistration {
    /// The registration with its identifiers checked and its token normalised, as every store takes it.
    public func checked(at now: Int64) throws(LiveActivityRegistryError) -> ActivityTokenRegistration {
        var registration = self
        try RegistryInput.checkIdentifier(activityID, field: "activityID")
        try RegistryInput.checkIdentifier(deviceID, field: "deviceID")
        try RegistryInput.checkIdentifier(app, field: "app")
        if let streamID {
            try RegistryInput.checkIdentifier(streamID, field: "streamID")
        }
        registration.token = try RegistryInput.normalizedToken(token)
        try RegistryInput.checkTime(now, field: "registration time")
        return registration
    }
}

extension BroadcastChannelRecord {
    /// Checks the record's fields as every store takes them.
    public func check() throws(LiveActivityRegistryError) {
        try RegistryInput.checkIdentifier(id, field: "channelId")
        try RegistryInput.checkIdentifier(app, field: "app")
        try RegistryInput.checkIdentifier(environment, field: "environment")
        guard storagePolicy == 0 || storagePolicy == 1 else {
            throw .badIdentifier(field: "storagePolicy", problem: "must be 0 or 1, not \(storagePolicy)")
        }
        try RegistryInput.checkTime(createdAt, field: "createdAt")
    }
}

extension ScheduledEndRequest {
    /// The pending end this request stores, with its fields checked; refused now if its end push could not be
    /// encoded later.
    public func checked(at now: Int64) throws(LiveActivityRegistryError) -> ScheduledEnd {
        if let id {
            try RegistryInput.checkIdentifier(id, field: "id")
        }
        try RegistryInput.checkIdentifier(activityID, field: "activityID")
        try RegistryInput.checkIdentifier(app, field: "app")
        try RegistryInput.checkTime(fireAt, field: "fireAt")
        try RegistryInput.checkTime(now, field: "scheduling time")
        let end = ScheduledEnd(
            id: id ?? RegistryInput.randomID(), activityID: activityID, app: app,
            fireAt: fireAt, contentState: contentState, dismissalDate: dismissalDate,
            state: .pending, createdAt: now, claimedAt: nil)
        do {
            _ = try end.payload.encode(now: fireAt)
        } catch {
            throw .badEndPayload(error)
        }
        return end
    }
}

/// The two ways a store lists update tokens: those of one activity, or of one broadcast stream. Both stores
/// build their query from it (the column to match, the order of the rows) and check the identifier the same way.
public enum ActivityTokenListing: Sendable {
    case activity
    case stream

    /// The `activity_tokens` column matched.
    public var column: String {
        switch self {
        case .activity: "activity_id"
        case .stream: "stream_id"
        }
    }

    /// The `ORDER BY` list of the rows.
    public var order: String {
        switch self {
        case .activity: "device_id"
        case .stream: "activity_id, device_id"
        }
    }

    /// The input field named in errors.
    public var field: String {
        switch self {
        case .activity: "activityID"
        case .stream: "streamID"
        }
    }

    /// What the query does, for error messages.
    public var action: String {
        switch self {
        case .activity: "reading an activity's tokens"
        case .stream: "reading a stream's tokens"
        }
    }
}

