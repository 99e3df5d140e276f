import Crypto
import Foundation
import NIOConcurrencyHelpers

/// Verifies ES256 provider tokens (JWTs) the way APNs does, with a cache so that ECDSA runs once
/// per distinct token, not once per request.
///
/// Maintainer's note: the shared cache sits behind a lock, but connections keep their own last
/// verdict (``ConnectionTokenCache``) and only come here when a connection sees a new token.
final class ProviderTokenVerifier: Sendable {
    /// The signature-and-claims verdict on one token, independent of the current time.
    enum Verdict: Sendable, Equatable {
        /// Well-formed, signed by a known key, `iss` matches; `iat` is checked per request.
        case valid(issuedAt: Int64, keyID: String)
        /// Malformed, unknown key, wrong issuer or bad signature.
        case invalid
    }

    /// The key kept as its X9.63 bytes: `P256.Signing.PublicKey` isn't `Sendable`, and it is only
    /// rebuilt when a token misses the cache.
    private struct Key: Sendable {
        var teamID: String
        var x963Representation: Data
    }

    private let keys: [String: Key]
    private let cache = NIOLockedValueBox<[String: Verdict]>([:])
    private static let maximumCachedTokens = 4096

    /// Loads the keys; throws when a PEM public key can't be read.
    init(keys: [MockProviderKey]) throws {
        var loaded: [String: Key] = [:]
        for key in keys {
            do {
                let publicKey = try P256.Signing.PublicKey(pemRepresentation: key.publicKeyPEM)
                loaded[key.keyID] = Key(teamID: key.teamID, x963Representation: publicKey.x963Representation)
            } catch {
                throw MockAPNsError("provider key \(key.keyID): not a P-256 public key in PEM form (\(error))")
            }
        }
        self.keys = loaded
    }

    /// The verdict on `token` (the JWT without `bearer `), from the cache when possible.
    func verdict(for token: Substring) -> Verdict {
        let key = String(token)
        if let cached = self.cache.withLockedValue({ $0[key] }) {
            return cached
        }
        let verdict = self.verify(token)
        self.cache.withLockedValue { cache in
            if cache.count >= Self.maximumCachedTokens {
                cache.removeAll(keepingCapacity: true)
            }
            cache[key] = verdict
        }
        return verdict
    }

    /// Verifies a compact JWS without the cache.
    func verify(_ token: Substring) -> Verdict {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3,
            let headerBytes = Base64URL.decode(parts[0]),
            let claimsBytes = Base64URL.decode(parts[1]),
            let signatureBytes = Base64URL.decode(parts[2]),
            let header = try? JSONDecoder().decode(Header.self, from: Data(headerBytes)),
            let claims = try? JSONDecoder().decode(Claims.self, from: Data(claimsBytes))
        else {
            return .invalid
        }
        guard header.alg == "ES256",
            let keyID = header.kid,
            let key = self.keys[keyID],
            claims.iss == key.teamID,
            let issuedAt = claims.iat, issuedAt.isFinite, abs(issuedAt) < 1e15
        else {
            return .invalid
        }
        guard signatureBytes.count == 64,
            let signature = try? P256.Signing.ECDSASignature(rawRepresentation: signatureBytes)
        else {
            return .invalid
        }
        let signingInput = token[token.startIndex..<parts[1].endIndex]
        guard let publicKey = try? P256.Signing.PublicKey(x963Representation: key.x963Representation),
            publicKey.isValidSignature(signature, for: Data(signingInput.utf8))
        else {
            return .invalid
        }
        return .valid(issuedAt: Int64(issuedAt), keyID: keyID)
    }

    private struct Header: Decodable {
        var alg: String?
        var kid: String?
    }

    /// `iat` must be a JSON number (a string or boolean fails the decoding, so the token is invalid).
    private struct Claims: Decodable {
        var iss: String?
        var iat: Double?
    }
}

/// A connection's memory of the last provider token it saw, so that the hot path compares one
/// string instead of asking the shared cache. Lives on the connection's event loop only.
struct ConnectionTokenCache {
    private var lastToken: Substring = ""
    private var lastVerdict: ProviderTokenVerifier.Verdict = .invalid
    /// The key id of the last token the validator accepted, until ``takeAcceptedKeyID()``.
    var acceptedKeyID: String?

    /// The key id of the token of the request just validated, if it was accepted; clears it.
    mutating func takeAcceptedKeyID() -> String? {
        defer { self.acceptedKeyID = nil }
        return self.acceptedKeyID
    }

    mutating func verdict(for token: Substring, verifier: ProviderTokenVerifier) -> ProviderTokenVerifier.Verdict {
        if !token.isEmpty && token == self.lastToken {
            return self.lastVerdict
        }
        let verdict = verifier.verdict(for: token)
        self.lastToken = token
        self.lastVerdict = verdict
        return verdict
    }
}

/// base64url without padding (RFC 7515 §2), as used by JWS.
enum Base64URL {
    static func decode(_ text: Substring) -> [UInt8]? {
        var output: [UInt8] = []
        output.reserveCapacity(text.utf8.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        for byte in text.utf8 {
            let value: UInt32
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = UInt32(byte - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = UInt32(byte - UInt8(ascii: "a")) + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt32(byte - UInt8(ascii: "0")) + 52
            case UInt8(ascii: "-"): value = 62
            case UInt8(ascii: "_"): value = 63
            default: return nil
            }
            accumulator = (accumulator << 6) | value
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        // A single leftover character (6 bits) can't be a valid encoding.
        guard bits < 6 else { return nil }
        return output
    }
}
