/// A TLS failure, with OpenSSL's own description where it gave one.
public struct TLSError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Code: Hashable, Sendable {
        case contextSetup, handshakeFailed, alpnNotNegotiated, readFailed, writeFailed, closedByPeer
    }

    private let code: Code
    /// What went wrong, in words (never key material).
    public let detail: String

    private init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    /// The TLS context could not be built (bad CA file, certificate or key).
    public static func contextSetup(_ detail: String) -> TLSError { TLSError(.contextSetup, detail) }
    /// The handshake failed: certificate verification, protocol version, or the peer's alert.
    public static func handshakeFailed(_ detail: String) -> TLSError { TLSError(.handshakeFailed, detail) }
    /// The server did not agree to HTTP/2 through ALPN.
    public static func alpnNotNegotiated(_ detail: String) -> TLSError { TLSError(.alpnNotNegotiated, detail) }
    static func readFailed(_ detail: String) -> TLSError { TLSError(.readFailed, detail) }
    static func writeFailed(_ detail: String) -> TLSError { TLSError(.writeFailed, detail) }
    static let closedByPeer = TLSError(.closedByPeer, "the peer closed the TLS session")

    public static func == (lhs: TLSError, rhs: TLSError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    /// True when the error says the server refused HTTP/2.
    public var isALPNFailure: Bool { code == .alpnNotNegotiated }
    /// True when the handshake failed (including certificate verification).
    public var isHandshakeFailure: Bool { code == .handshakeFailed }

    public var description: String {
        switch code {
        case .contextSetup: "TLS setup failed: \(detail)"
        case .handshakeFailed: "TLS handshake failed: \(detail)"
        case .alpnNotNegotiated: "ALPN did not negotiate h2: \(detail)"
        case .readFailed: "TLS read failed: \(detail)"
        case .writeFailed: "TLS write failed: \(detail)"
        case .closedByPeer: detail
        }
    }
}
