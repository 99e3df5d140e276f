import Foundation

/// One notification to send through the gateway.
public struct GatewayNotification: Sendable, Hashable {
    /// The device token (hex).
    public var token: String
    /// The payload: the text of one JSON object, sent as is (the gateway forwards these exact bytes).
    public var payload: String
    public var priority: Int?
    public var expiration: Int64?
    public var topic: String?
    public var pushType: String?
    public var collapseID: String?
    public var apnsID: String?
    /// The app (as named in the gateway's configuration); may be left out when it serves one app.
    public var app: String?

    /// Creates a notification; everything but the token and payload is optional.
    public init(
        token: String, payload: String, priority: Int? = nil, expiration: Int64? = nil, topic: String? = nil,
        pushType: String? = nil, collapseID: String? = nil, apnsID: String? = nil, app: String? = nil
    ) {
        self.token = token
        self.payload = payload
        self.priority = priority
        self.expiration = expiration
        self.topic = topic
        self.pushType = pushType
        self.collapseID = collapseID
        self.apnsID = apnsID
        self.app = app
    }

    /// The notification as one JSON object (the payload inserted verbatim).
    public var json: String {
        var out = "{\"token\":" + jsonString(token) + ",\"payload\":" + payload
        if let priority { out += ",\"priority\":\(priority)" }
        if let expiration { out += ",\"expiration\":\(expiration)" }
        if let topic { out += ",\"topic\":" + jsonString(topic) }
        if let pushType { out += ",\"pushType\":" + jsonString(pushType) }
        if let collapseID { out += ",\"collapseId\":" + jsonString(collapseID) }
        if let apnsID { out += ",\"apnsId\":" + jsonString(apnsID) }
        if let app { out += ",\"app\":" + jsonString(app) }
        return out + "}"
    }
}

/// The result of one notification.
public struct GatewayResult: Sendable, Hashable {
    /// APNs's HTTP status; nil when APNs did not answer (local or gateway failures).
    public var status: Int?
    /// APNs's reason, or the gateway's own (`BadRequest`, `UnknownApp`, `Shutdown`, ...).
    public var reason: String?
    public var apnsID: String?
    /// With 410: milliseconds since the epoch when the token became invalid.
    public var timestamp: Int64?
    /// `"apns"`, `"local"` or `"gateway"`.
    public var source: String
    public var detail: String?

    /// True for APNs status 200.
    public var isSuccess: Bool { status == 200 }

    init(_ object: [String: Any]) {
        status = (object["status"] as? NSNumber)?.intValue
        reason = object["reason"] as? String
        apnsID = object["apnsId"] as? String
        timestamp = (object["timestamp"] as? NSNumber)?.int64Value
        source = object["source"] as? String ?? "unknown"
        detail = object["detail"] as? String
    }
}

/// An error reply from the gateway, or a failure of the connection.
public struct GatewayError: Error, Sendable, CustomStringConvertible {
    /// The reply's `code` (`InvalidJSON`, `LineTooLong`, `UnknownOp`, `BadRequest`, ...), or
    /// `ConnectionClosed` / `BadReply` for client-side failures.
    public var code: String
    public var message: String

    /// Creates an error.
    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}

/// One reply line, decoded.
public struct GatewayReply: Sendable {
    /// The reply's text (without the newline).
    public var line: String
    /// The results of a `send`, in input order.
    public var results: [GatewayResult]?
    /// The error of an error reply.
    public var error: GatewayError?

    init(line: String, object: [String: Any]?) {
        self.line = line
        if let list = object?["results"] as? [Any] {
            results = list.map { GatewayResult($0 as? [String: Any] ?? [:]) }
        }
        if let error = object?["error"] as? [String: Any] {
            self.error = GatewayError(code: error["code"] as? String ?? "Unknown", message: error["message"] as? String ?? "")
        }
    }
}

/// A JSON string literal.
func jsonString(_ value: String) -> String {
    var out = "\""
    for scalar in value.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}

/// The routing key of a JSON id: strings and numbers only.
func idKey(_ value: Any?) -> String? {
    if let string = value as? String { return "s:" + string }
    if let value, let number = value as? NSNumber {
        let name = String(describing: type(of: value))
        if name == "Bool" || name.contains("Boolean") { return nil }
        return "n:\(number)"
    }
    return nil
}
