import JSON
import NIOCore

extension APNsNotification {
    /// The longest device token accepted, in hex digits. APNs does not promise a length (tokens are
    /// 64 hex digits today); this bound only keeps `:path` far below APNs's 8000-byte header limit.
    public static let maxDeviceTokenLength = 1024

    /// The longest `apns-collapse-id` APNs accepts, in bytes of UTF-8.
    public static let maxCollapseIDLength = 64

    /// Checks everything that can be checked locally, so that malformed requests never reach APNs
    /// (APNs slows down providers that send many bad requests).
    ///
    /// The checks, in order (the first failure is thrown):
    /// - token: non-empty, even number of hex digits (either case), at most
    ///   ``maxDeviceTokenLength``;
    /// - topic: non-empty, printable ASCII without spaces, ends with the push type's
    ///   ``APNsPushType/topicSuffix`` (with something before it); for types without a suffix,
    ///   does not end with another type's suffix;
    /// - payload: non-empty, at most ``APNsPushType/maxPayloadSize`` bytes, exactly one JSON object;
    /// - priority: background pushes never 10, Live Activity pushes 5 or 10;
    /// - expiration: not negative;
    /// - collapse ID: 1 to 64 bytes of UTF-8, no control characters, no leading or trailing blanks;
    /// - apns-id: a canonical UUID (8-4-4-4-12 hex digits, either case; sent lowercased).
    ///
    /// Allocates nothing unless it throws.
    public func validate() throws(APNsValidationError) {
        try self.token.validate()
        try Self.validateTopic(self.topic, for: self.pushType)
        try Self.validatePayload(self.payload, for: self.pushType, isCheckedObject: self.payloadIsCheckedObject)
        if let priority = self.priority {
            try Self.validatePriority(priority, for: self.pushType)
        }
        if let expiration = self.expiration, expiration < 0 {
            throw APNsValidationError.badExpiration.with(
                "expiration \(expiration) is negative; use 0 to deliver once or a time in epoch seconds")
        }
        if let collapseID = self.collapseID {
            try Self.validateCollapseID(collapseID)
        }
        if let apnsID = self.apnsID {
            try Self.validateAPNsID(apnsID)
        }
    }

    /// Checks a device token: non-empty, an even number of hex digits, at most
    /// ``maxDeviceTokenLength``.
    public static func validateDeviceToken(_ token: String) throws(APNsValidationError) {
        let count = token.utf8.count
        guard count > 0 else {
            throw APNsValidationError.badDeviceToken.with("device token is empty")
        }
        guard count <= Self.maxDeviceTokenLength else {
            throw APNsValidationError.badDeviceToken.with(
                "device token \(redactedToken(token)) is \(count) characters; at most \(Self.maxDeviceTokenLength) are accepted")
        }
        let badOffset = token.utf8.withContiguousStorageIfAvailable { bytes in
            bytes.firstIndex { ASCIIByte.hexValue($0) == nil }
        } ?? token.utf8.enumerated().first { ASCIIByte.hexValue($0.element) == nil }?.offset
        if let badOffset {
            throw APNsValidationError.badDeviceToken.with(
                "device token \(redactedToken(token)) has a non-hex character at offset \(badOffset)")
        }
        guard count % 2 == 0 else {
            throw APNsValidationError.badDeviceToken.with(
                "device token \(redactedToken(token)) has an odd number of hex digits (\(count))")
        }
    }

    /// Checks a topic against a push type: non-empty, printable ASCII without spaces, and with the
    /// push type's suffix (see ``validate()``).
    public static func validateTopic(_ topic: String, for pushType: APNsPushType) throws(APNsValidationError) {
        var topic = topic
        let problem: String? = topic.withUTF8 { bytes in
            guard !bytes.isEmpty else { return "topic is empty" }
            if let bad = bytes.firstIndex(where: { $0 < 0x21 || $0 > 0x7E }) {
                return "topic \(quoted(bytes)) has a character not allowed in a topic at offset \(bad)"
            }
            let suffix = pushType.topicSuffix
            if !suffix.isEmpty {
                guard bytes.count > suffix.utf8.count, bytes.hasSuffix(suffix) else {
                    return "topic \(quoted(bytes)) does not end with \"\(suffix)\" as \(pushType.rawValue) pushes require"
                }
                return nil
            }
            if let other = APNsPushType.suffixedType(ofTopic: bytes) {
                return "topic \(quoted(bytes)) ends with \"\(other.topicSuffix)\", the suffix for \(other.rawValue) pushes, "
                    + "not \(pushType.rawValue)"
            }
            return nil
        }
        if let problem {
            throw APNsValidationError.badTopic.with(problem)
        }
    }

    /// Checks a payload: non-empty, within the push type's size limit, exactly one JSON object.
    /// `isCheckedObject` says a JSON scan has already found it to be one object (``JSONObjectBytes``).
    public static func validatePayload(
        _ payload: ByteBuffer, for pushType: APNsPushType, isCheckedObject: Bool = false
    ) throws(APNsValidationError) {
        let size = payload.readableBytes
        guard size > 0 else {
            throw APNsValidationError.payloadEmpty.with("payload is empty")
        }
        guard size <= pushType.maxPayloadSize else {
            throw APNsValidationError.payloadTooLarge.with(
                "payload is \(size) bytes; \(pushType.rawValue) pushes allow at most \(pushType.maxPayloadSize)")
        }
        if isCheckedObject { return }
        do {
            try JSONReader.validateObject(payload)
        } catch {
            throw APNsValidationError.payloadNotJSON.with("payload is not a JSON object: \(error)")
        }
    }

    /// Checks that a priority is allowed for a push type: never 10 for background pushes, 5 or 10
    /// for Live Activities.
    public static func validatePriority(_ priority: APNsPriority, for pushType: APNsPushType) throws(APNsValidationError) {
        switch (pushType, priority) {
        case (.background, .immediate):
            throw APNsValidationError.badPriority.with("priority 10 is not allowed for background pushes; use 5")
        case (.liveactivity, .low):
            throw APNsValidationError.badPriority.with("Live Activity pushes take priority 5 or 10, not 1")
        default:
            return
        }
    }

    /// Checks an `apns-collapse-id`: 1 to 64 bytes of UTF-8, no control characters, no leading or
    /// trailing blanks (it is sent as a header value).
    public static func validateCollapseID(_ collapseID: String) throws(APNsValidationError) {
        var collapseID = collapseID
        let problem: String? = collapseID.withUTF8 { bytes in
            guard let first = bytes.first, let last = bytes.last else { return "collapse id is empty" }
            guard bytes.count <= Self.maxCollapseIDLength else {
                return "collapse id is \(bytes.count) bytes of UTF-8; at most \(Self.maxCollapseIDLength) are allowed"
            }
            if let bad = bytes.firstIndex(where: { $0 < 0x20 || $0 == 0x7F }) {
                return "collapse id has a control character at offset \(bad)"
            }
            if first == UInt8(ascii: " ") || last == UInt8(ascii: " ") {
                return "collapse id starts or ends with a space"
            }
            return nil
        }
        if let problem {
            throw APNsValidationError.badCollapseId.with(problem)
        }
    }

    /// Checks an `apns-id`: a canonical UUID, 8-4-4-4-12 hex digits (either case).
    public static func validateAPNsID(_ apnsID: String) throws(APNsValidationError) {
        var apnsID = apnsID
        let valid = apnsID.withUTF8 { bytes in
            guard bytes.count == 36 else { return false }
            for (offset, byte) in bytes.enumerated() {
                switch offset {
                case 8, 13, 18, 23:
                    if byte != UInt8(ascii: "-") { return false }
                default:
                    if ASCIIByte.hexValue(byte) == nil { return false }
                }
            }
            return true
        }
        guard valid else {
            throw APNsValidationError.badMessageId.with(
                "apns-id \(quoted(apnsID, limit: 40)) is not a canonical UUID (8-4-4-4-12 hex digits)")
        }
    }
}

/// At most the first 8 characters of a token, quoted, with anything but printable ASCII replaced by
/// `?` and `…` if it was longer: enough to recognise a token in a log without disclosing it.
func redactedToken(_ token: String) -> String {
    var shown = ""
    var count = 0
    for scalar in token.unicodeScalars {
        if count == 8 {
            return "\"\(shown)…\""
        }
        shown.unicodeScalars.append(scalar.value >= 0x20 && scalar.value < 0x7F ? scalar : "?")
        count += 1
    }
    return "\"\(shown)\""
}

/// A value for a message: quoted, non-printable bytes replaced by `?`, cut after `limit` bytes.
func quoted(_ bytes: UnsafeBufferPointer<UInt8>, limit: Int = 100) -> String {
    var text = String(decoding: bytes.prefix(limit).map { $0 >= 0x20 && $0 < 0x7F ? $0 : UInt8(ascii: "?") }, as: UTF8.self)
    if bytes.count > limit {
        text += "…"
    }
    return "\"\(text)\""
}

func quoted(_ string: String, limit: Int = 100) -> String {
    var string = string
    return string.withUTF8 { quoted($0, limit: limit) }
}

extension APNsPushType {
    /// The push type whose non-empty topic suffix ends `topic`, if any. Dispatches on the last
    /// byte so that the usual topic (a bare bundle ID) costs one or two comparisons.
    static func suffixedType(ofTopic topic: UnsafeBufferPointer<UInt8>) -> APNsPushType? {
        func match(_ type: APNsPushType) -> APNsPushType? {
            topic.hasSuffix(type.topicSuffix) ? type : nil
        }
        switch topic.last {
        case UInt8(ascii: "n"): return match(.complication)
        case UInt8(ascii: "s"): return match(.controls) ?? match(.widgets)
        case UInt8(ascii: "r"): return match(.fileprovider)
        case UInt8(ascii: "y"): return match(.liveactivity) ?? match(.location)
        case UInt8(ascii: "t"): return match(.pushtotalk)
        case UInt8(ascii: "p"): return match(.voip)
        default: return nil
        }
    }
}

extension UnsafeBufferPointer<UInt8> {
    /// Whether the bytes end with the UTF-8 of `suffix`.
    func hasSuffix(_ suffix: String) -> Bool {
        var suffix = suffix
        return suffix.withUTF8 { suffixBytes in
            guard suffixBytes.count <= self.count else { return false }
            let start = self.count - suffixBytes.count
            var offset = suffixBytes.count
            while offset > 0 {
                offset -= 1
                if self[start + offset] != suffixBytes[offset] { return false }
            }
            return true
        }
    }
}

/// How logs show values that must not be disclosed.
public enum APNsRedaction {
    /// At most the first 8 characters of a device token (anything but printable ASCII as `?`), then `…` if
    /// there was more: enough to recognise a token, never the whole of it.
    public static func token(_ token: String) -> String {
        var shown = ""
        for (count, scalar) in token.unicodeScalars.enumerated() {
            if count == 8 { return shown + "…" }
            shown.unicodeScalars.append(scalar.value >= 0x20 && scalar.value < 0x7F ? scalar : "?")
        }
        return shown
    }
}
