import CJSONScan

/// A device token (or Live Activity update / push-to-start token) as APNs takes it in the `:path`: hex digits.
///
/// The form iOS gives, 64 lowercase hex digits, is kept as its 32 bytes: a notification carries it without an
/// allocation or reference counting, it needs no further check, and the `:path` is written from it directly
/// (``writeHex(into:)``). Every other string (other lengths, uppercase digits, or not hex at all) is kept as given,
/// and ``APNsNotification/validate()`` judges it; so the token APNs receives is always the one the caller gave.
///
/// Deliberately not `CustomStringConvertible`: a token printed by accident would land in a log whole.
public struct APNsDeviceToken: Sendable, Hashable {
    enum Storage: Sendable, Hashable {
        /// 64 lowercase hex digits as 32 bytes, in order.
        case bytes(UInt64, UInt64, UInt64, UInt64)
        case string(String)
    }

    var storage: Storage

    /// The token `string` stands for.
    public init(_ string: String) {
        var string = string
        let packed: Storage? = string.withUTF8 { Self.pack(UnsafeRawBufferPointer($0)) }
        storage = packed ?? .string(string)
    }

    /// The token whose hex digits are `utf8`, when they are exactly 64 lowercase hex digits (the form iOS gives):
    /// made without an allocation. `nil` for anything else; use ``init(_:)`` then.
    public init?(lowercaseHex utf8: UnsafeRawBufferPointer) {
        guard let packed = Self.pack(utf8) else { return nil }
        storage = packed
    }

    /// Whether the token is 64 lowercase hex digits, kept as bytes (it cannot be malformed).
    public var isPacked: Bool {
        if case .bytes = storage { return true }
        return false
    }

    /// The token as text, exactly as given.
    public var string: String {
        switch storage {
        case .bytes:
            return String(unsafeUninitializedCapacity: 64) { buffer in
                writeHex(into: UnsafeMutableRawBufferPointer(buffer))
                return 64
            }
        case .string(let string):
            return string
        }
    }

    /// The number of bytes of ``string``.
    public var utf8Count: Int {
        switch storage {
        case .bytes: return 64
        case .string(let string): return string.utf8.count
        }
    }

    /// Writes ``string``'s UTF-8 bytes to the start of `buffer`, which holds at least ``utf8Count`` bytes.
    public func writeHex(into buffer: UnsafeMutableRawBufferPointer) {
        switch storage {
        case .bytes(let a, let b, let c, let d):
            precondition(buffer.count >= 64)
            withUnsafeBytes(of: (a, b, c, d)) { bytes in
                cjson_hex32_encode_lower(
                    bytes.baseAddress!.assumingMemoryBound(to: UInt8.self),
                    buffer.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        case .string(var string):
            string.withUTF8 { utf8 in
                precondition(buffer.count >= utf8.count)
                UnsafeMutableRawBufferPointer(rebasing: buffer[0..<utf8.count]).copyMemory(from: UnsafeRawBufferPointer(utf8))
            }
        }
    }

    /// Checks a token kept as given (see ``APNsNotification/validateDeviceToken(_:)``); one kept as bytes is valid.
    public func validate() throws(APNsValidationError) {
        if case .string(let string) = storage {
            try APNsNotification.validateDeviceToken(string)
        }
    }

    private static func pack(_ utf8: UnsafeRawBufferPointer) -> Storage? {
        guard utf8.count == 64 else { return nil }
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        let decoded = withUnsafeMutableBytes(of: &words) { out in
            cjson_hex64_decode_lower(
                utf8.baseAddress!.assumingMemoryBound(to: UInt8.self), out.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        guard decoded != 0 else { return nil }
        return .bytes(words.0, words.1, words.2, words.3)
    }
}
