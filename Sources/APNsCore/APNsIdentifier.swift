/// An `apns-id` or `apns-unique-id` as APNs sent it.
///
/// Every answer from APNs carries an `apns-id` (and, in the development environment, an `apns-unique-id`): a
/// canonical UUID of 36 characters. As a `String` each would be a heap allocation per notification, and a
/// reference count on every copy of its result; this keeps those 36 bytes inline. Any other text (another length,
/// or not ASCII) is kept as a `String`. Equal texts are equal values.
public struct APNsIdentifier: Sendable, Hashable, CustomStringConvertible {
    /// The length of a canonical UUID's text, which is kept inline.
    public static let inlineLength = 36

    private enum Storage: Sendable, Hashable {
        /// Exactly ``inlineLength`` bytes of UTF-8.
        case inline(UInt64, UInt64, UInt64, UInt64, UInt32)
        case string(String)
    }

    private let storage: Storage

    /// The identifier with the text `string`.
    public init(_ string: String) {
        var text = string
        let inline = text.withUTF8 { Self.inline(UnsafeRawBufferPointer($0)) }
        self.storage = inline ?? .string(string)
    }

    /// The identifier with the text of `bytes` (a header field's value, as it arrived), decoded as UTF-8 as
    /// `String(decoding:as:)` does.
    public init(decoding bytes: UnsafeRawBufferPointer) {
        self.storage = Self.inline(bytes) ?? .string(String(decoding: bytes, as: UTF8.self))
    }

    /// The inline form of `bytes`, when they are ``inlineLength`` ASCII bytes.
    private static func inline(_ bytes: UnsafeRawBufferPointer) -> Storage? {
        guard bytes.count == inlineLength else { return nil }
        let a = bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self)
        let b = bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
        let c = bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self)
        let d = bytes.loadUnaligned(fromByteOffset: 24, as: UInt64.self)
        let e = bytes.loadUnaligned(fromByteOffset: 32, as: UInt32.self)
        guard (a | b | c | d | UInt64(e)) & 0x8080_8080_8080_8080 == 0 else { return nil }
        return .inline(a, b, c, d, e)
    }

    /// Calls `body` with the text's UTF-8 bytes.
    public func withUTF8<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        switch storage {
        case .inline(let a, let b, let c, let d, let e):
            var words = (a, b, c, d, e)
            return try withUnsafeBytes(of: &words) { try body(UnsafeRawBufferPointer(rebasing: $0[0..<Self.inlineLength])) }
        case .string(var string):
            return try string.withUTF8 { try body(UnsafeRawBufferPointer($0)) }
        }
    }

    /// The length of the text in UTF-8 bytes.
    public var utf8Count: Int {
        switch storage {
        case .inline: Self.inlineLength
        case .string(let string): string.utf8.count
        }
    }

    /// The text.
    public var description: String {
        switch storage {
        case .inline: withUTF8 { String(decoding: $0, as: UTF8.self) }
        case .string(let string): string
        }
    }
}

/// A value that carries APNs's identifiers of one notification (``APNsResponse``, and the APNs module's result):
/// their texts, as `apnsID` and `apnsUniqueID`.
public protocol APNsIdentified {
    /// The `apns-id` APNs answered with (the request's, or the one it generated).
    var apnsIdentifier: APNsIdentifier? { get set }
    /// The `apns-unique-id` APNs answered with (development environment only).
    var apnsUniqueIdentifier: APNsIdentifier? { get set }
}

extension APNsIdentified {
    /// ``apnsIdentifier``'s text.
    public var apnsID: String? {
        get { apnsIdentifier?.description }
        set { apnsIdentifier = newValue.map(APNsIdentifier.init) }
    }

    /// ``apnsUniqueIdentifier``'s text.
    public var apnsUniqueID: String? {
        get { apnsUniqueIdentifier?.description }
        set { apnsUniqueIdentifier = newValue.map(APNsIdentifier.init) }
    }
}
