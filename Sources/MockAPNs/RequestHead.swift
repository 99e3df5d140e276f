import NIOHPACK

/// The parts of a request's header block the mock looks at, taken in one pass.
struct RequestHead {
    var method: String?
    var path: String?
    var authorization: String?
    var apnsID: String?
    var topic: String?
    var pushType: String?
    var priority: String?
    var expiration: String?
    var collapseID: String?
    var channelID: String?
    /// Some `apns-*` header (or `authorization`) came more than once.
    var hasDuplicateHeaders = false

    init(headers: HPACKHeaders) {
        var otherAPNsNames: [String] = []
        for (name, value, _) in headers {
            switch name {
            case ":method": self.method = value
            case ":path": self.path = value
            case "authorization": Self.store(value, into: &self.authorization, duplicate: &self.hasDuplicateHeaders)
            case "apns-id": Self.store(value, into: &self.apnsID, duplicate: &self.hasDuplicateHeaders)
            case "apns-topic": Self.store(value, into: &self.topic, duplicate: &self.hasDuplicateHeaders)
            case "apns-push-type": Self.store(value, into: &self.pushType, duplicate: &self.hasDuplicateHeaders)
            case "apns-priority": Self.store(value, into: &self.priority, duplicate: &self.hasDuplicateHeaders)
            case "apns-expiration": Self.store(value, into: &self.expiration, duplicate: &self.hasDuplicateHeaders)
            case "apns-collapse-id": Self.store(value, into: &self.collapseID, duplicate: &self.hasDuplicateHeaders)
            case "apns-channel-id": Self.store(value, into: &self.channelID, duplicate: &self.hasDuplicateHeaders)
            default:
                if name.utf8.starts(with: "apns-".utf8) {
                    if otherAPNsNames.contains(name) {
                        self.hasDuplicateHeaders = true
                    } else {
                        otherAPNsNames.append(name)
                    }
                }
            }
        }
    }

    private static func store(_ value: String, into field: inout String?, duplicate: inout Bool) {
        if field != nil {
            duplicate = true
        }
        field = value
    }

    static let devicePathPrefix = "/3/device/"

    /// The device token part of `:path`, or `nil` when the path isn't `/3/device/...`.
    var deviceToken: Substring? {
        guard let path = self.path, path.utf8.starts(with: Self.devicePathPrefix.utf8) else { return nil }
        return path.dropFirst(Self.devicePathPrefix.utf8.count)
    }

    /// Lowercased names and values of the regular (non-pseudo) headers, for the recorder.
    static func recordedHeaders(_ headers: HPACKHeaders) -> [String: String] {
        var result: [String: String] = [:]
        for (name, value, _) in headers where !name.hasPrefix(":") {
            let key = name.lowercased()
            if let existing = result[key] {
                result[key] = existing + "," + value
            } else {
                result[key] = value
            }
        }
        return result
    }
}

/// Canonical UUID text: checking, lowercasing and making new ones.
enum UUIDText {
    /// Whether `text` is 8-4-4-4-12 hexadecimal digits (either case).
    static func isCanonical(_ text: String) -> Bool {
        var count = 0
        for byte in text.utf8 {
            switch count {
            case 8, 13, 18, 23:
                guard byte == UInt8(ascii: "-") else { return false }
            default:
                guard byte.isHexDigit else { return false }
            }
            count += 1
            if count > 36 { return false }
        }
        return count == 36
    }

    /// `text` lowercased, without allocating when it already is.
    static func lowercased(_ text: String) -> String {
        text.utf8.contains(where: { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "F") }) ? text.lowercased() : text
    }
}

/// Makes lowercase version-4-shaped UUIDs cheaply: a random 122-bit base per connection plus a
/// counter, so ids are unique without asking the system for randomness per request.
struct APNsIDGenerator {
    private let high: UInt64
    private let low: UInt64
    private var counter: UInt64 = 0

    init() {
        var generator = SystemRandomNumberGenerator()
        self.high = generator.next()
        self.low = generator.next()
    }

    mutating func next() -> String {
        self.counter &+= 1
        // Multiplying by an odd constant is a bijection: ids stay unique, but don't look sequential.
        let mixed = (self.counter &* 0x9E37_79B9_7F4A_7C15) ^ self.low
        let high = (self.high & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000
        let low = (mixed & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000
        return String(unsafeUninitializedCapacity: 36) { buffer in
            let digits: StaticString = "0123456789abcdef"
            let table = digits.utf8Start
            var position = 0
            func put(_ value: UInt64, nibbles: Int, shiftFrom: Int) {
                var shift = shiftFrom
                for _ in 0..<nibbles {
                    buffer[position] = table[Int((value >> UInt64(shift)) & 0xF)]
                    position += 1
                    shift -= 4
                }
            }
            func dash() {
                buffer[position] = UInt8(ascii: "-")
                position += 1
            }
            put(high, nibbles: 8, shiftFrom: 60)
            dash()
            put(high, nibbles: 4, shiftFrom: 28)
            dash()
            put(high, nibbles: 4, shiftFrom: 12)
            dash()
            put(low, nibbles: 4, shiftFrom: 60)
            dash()
            put(low, nibbles: 12, shiftFrom: 44)
            return 36
        }
    }
}
