import NIOCore

/// APNs's answer to one push request.
public struct APNsResponse: Sendable, Hashable, APNsIdentified {
    /// The HTTP `:status`.
    public var status: Int
    /// The error `reason`; `nil` on success, or when an error came without a readable reason.
    public var reason: APNsReason?
    /// The `apns-id` response header (the request's, or the one APNs generated).
    public var apnsIdentifier: APNsIdentifier?
    /// The `apns-unique-id` response header (development environment only).
    public var apnsUniqueIdentifier: APNsIdentifier?
    /// For 410: the time, in milliseconds since the epoch, when APNs last learned the token was no
    /// longer valid. Drop the token unless it was registered again after this.
    public var timestamp: Int64?

    /// Creates a response from its parts.
    public init(
        status: Int,
        reason: APNsReason? = nil,
        apnsID: String? = nil,
        apnsUniqueID: String? = nil,
        timestamp: Int64? = nil
    ) {
        self.status = status
        self.reason = reason
        self.apnsIdentifier = apnsID.map(APNsIdentifier.init)
        self.apnsUniqueIdentifier = apnsUniqueID.map(APNsIdentifier.init)
        self.timestamp = timestamp
    }

    /// Builds a response from the status, the `apns-id` / `apns-unique-id` headers and the raw
    /// body. Never fails.
    ///
    /// A 200's body is ignored. Otherwise the body is read with
    /// ``APNsErrorBody/init(parsing:)``: unknown keys and whitespace are tolerated, a missing or
    /// empty body gives a `nil` reason, and a malformed one gives ``APNsReason/unknown(_:)`` with
    /// the raw text cut to ``APNsErrorBody/maxUnknownTextLength`` bytes.
    public static func parse(status: Int, apnsID: String?, apnsUniqueID: String?, body: ByteBuffer?) -> APNsResponse {
        parse(status: status, apnsIdentifier: apnsID.map(APNsIdentifier.init),
              apnsUniqueIdentifier: apnsUniqueID.map(APNsIdentifier.init), body: body)
    }

    /// ``parse(status:apnsID:apnsUniqueID:body:)`` with the identifiers as they were read from the answer.
    public static func parse(
        status: Int, apnsIdentifier: APNsIdentifier?, apnsUniqueIdentifier: APNsIdentifier?, body: ByteBuffer?
    ) -> APNsResponse {
        var response = APNsResponse(status: status)
        response.apnsIdentifier = apnsIdentifier
        response.apnsUniqueIdentifier = apnsUniqueIdentifier
        if status != 200, let body {
            let errorBody = APNsErrorBody(parsing: body)
            response.reason = errorBody.reason
            response.timestamp = errorBody.timestamp
        }
        return response
    }

    /// Whether APNs accepted the notification (status 200).
    public var isSuccess: Bool {
        self.status == 200
    }
}
