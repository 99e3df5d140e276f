import Crypto

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Why a signing key, key ID, team ID or token setting was refused. Messages never contain key
/// material.
///
/// Equality and hashing consider only the kind of error (compare with the static constants).
public struct APNsProviderTokenError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Code: Hashable, Sendable {
        case invalidKey
        case unreadableKeyFile
        case invalidKeyID
        case invalidTeamID
        case invalidRefreshInterval
        case signingFailed
    }

    private let code: Code
    /// What is wrong.
    public var message: String

    private init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The key is not a PEM-encoded P-256 private key (PKCS#8, as in Apple's `.p8` files).
    public static let invalidKey = APNsProviderTokenError(.invalidKey, "invalid signing key")
    /// The key file could not be read.
    public static let unreadableKeyFile = APNsProviderTokenError(.unreadableKeyFile, "cannot read the key file")
    /// The key ID is not 10 ASCII letters or digits.
    public static let invalidKeyID = APNsProviderTokenError(.invalidKeyID, "invalid key ID")
    /// The team ID is not 10 ASCII letters or digits.
    public static let invalidTeamID = APNsProviderTokenError(.invalidTeamID, "invalid team ID")
    /// The refresh interval is outside 20...55 minutes.
    public static let invalidRefreshInterval = APNsProviderTokenError(
        .invalidRefreshInterval, "invalid refresh interval")
    /// The signature could not be computed.
    public static let signingFailed = APNsProviderTokenError(.signingFailed, "signing failed")

    func with(_ message: String) -> APNsProviderTokenError {
        APNsProviderTokenError(self.code, message)
    }

    /// The message.
    public var description: String {
        self.message
    }

    public static func == (lhs: APNsProviderTokenError, rhs: APNsProviderTokenError) -> Bool {
        lhs.code == rhs.code
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.code)
    }
}

/// The ES256 (P-256) private key that signs provider tokens: the contents of an Apple `.p8` file.
public struct APNsSigningKey: Sendable {
    /// The key's raw scalar (32 bytes). Crypto's key types are not `Sendable`, so a key value is
    /// rebuilt from it to sign, which happens once per refresh interval.
    private let rawKey: [UInt8]

    /// The matching public key, PEM-encoded (`-----BEGIN PUBLIC KEY-----`), e.g. for a test server
    /// that verifies the tokens.
    public let publicKeyPEM: String

    /// Reads a PEM-encoded P-256 private key (`-----BEGIN PRIVATE KEY-----`, PKCS#8, as in Apple's
    /// `.p8` files; SEC1 `EC PRIVATE KEY` is accepted too). Surrounding whitespace and CRLF line
    /// ends are tolerated.
    ///
    /// - Throws: ``APNsProviderTokenError/invalidKey``, whose message contains no key material.
    public init(pkcs8PEM: String) throws {
        let normalized = pkcs8PEM.replacingCRLF().trimmingBlanks()
        guard normalized.hasPrefix("-----BEGIN") else {
            throw APNsProviderTokenError.invalidKey.with(
                "signing key is not PEM: expected \"-----BEGIN PRIVATE KEY-----\" (the contents of an AuthKey_<KEYID>.p8 file)")
        }
        do {
            let key = try P256.Signing.PrivateKey(pemRepresentation: normalized)
            self.rawKey = Array(key.rawRepresentation)
            self.publicKeyPEM = key.publicKey.pemRepresentation
        } catch {
            throw APNsProviderTokenError.invalidKey.with(
                "signing key is not a valid PEM-encoded P-256 private key (an APNs .p8 key)")
        }
    }

    /// Reads the key from a `.p8` file.
    ///
    /// - Throws: ``APNsProviderTokenError/unreadableKeyFile`` or ``APNsProviderTokenError/invalidKey``.
    public init(contentsOfFile path: String) throws {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw APNsProviderTokenError.unreadableKeyFile.with("cannot read signing key file \(quoted(path, limit: 300))")
        }
        do {
            try self.init(pkcs8PEM: String(decoding: data, as: UTF8.self))
        } catch let error as APNsProviderTokenError {
            throw error.with("\(quoted(path, limit: 300)): \(error.message)")
        }
    }

    private func privateKey() throws -> P256.Signing.PrivateKey {
        try P256.Signing.PrivateKey(rawRepresentation: self.rawKey)
    }

    /// Signs a provider token (JWT): header `{"alg":"ES256","kid":keyID}`, claims
    /// `{"iss":teamID,"iat":issuedAt}`, base64url without padding, signature the raw 64-byte
    /// R‖S (not DER).
    ///
    /// - Throws: ``APNsProviderTokenError/invalidKeyID``, ``APNsProviderTokenError/invalidTeamID``
    ///   or ``APNsProviderTokenError/signingFailed``.
    public func makeProviderToken(keyID: String, teamID: String, issuedAt: Int64) throws -> String {
        try validateIdentifier(keyID, error: .invalidKeyID, name: "key ID")
        try validateIdentifier(teamID, error: .invalidTeamID, name: "team ID")
        let header = base64URLEncoded(Array("{\"alg\":\"ES256\",\"kid\":\"\(keyID)\"}".utf8))
        let claims = base64URLEncoded(Array("{\"iss\":\"\(teamID)\",\"iat\":\(issuedAt)}".utf8))
        let signingInput = header + "." + claims
        let signature: P256.Signing.ECDSASignature
        do {
            signature = try self.privateKey().signature(for: Array(signingInput.utf8))
        } catch {
            throw APNsProviderTokenError.signingFailed.with("could not sign the provider token")
        }
        return signingInput + "." + base64URLEncoded(Array(signature.rawRepresentation))
    }
}

/// Checks a key or team ID: exactly 10 ASCII letters or digits. The message names the problem, not
/// the value.
func validateIdentifier(_ value: String, error: APNsProviderTokenError, name: String) throws(APNsProviderTokenError) {
    let bytes = value.utf8
    guard bytes.count == 10 else {
        throw error.with("\(name) must be 10 letters or digits; got \(bytes.count) bytes")
    }
    let alphanumeric = bytes.allSatisfy { byte in
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
    }
    guard alphanumeric else {
        throw error.with("\(name) must be 10 letters or digits; it contains another character")
    }
}

/// Base64url (RFC 4648 §5) without padding.
func base64URLEncoded(_ bytes: [UInt8]) -> String {
    let alphabet: StaticString = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    let outputLength = (bytes.count * 4 + 2) / 3
    return alphabet.withUTF8Buffer { table in
        String(unsafeUninitializedCapacity: outputLength) { output in
            var out = 0
            var index = 0
            while index + 3 <= bytes.count {
                let value = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
                output[out] = table[Int(value >> 18 & 63)]
                output[out + 1] = table[Int(value >> 12 & 63)]
                output[out + 2] = table[Int(value >> 6 & 63)]
                output[out + 3] = table[Int(value & 63)]
                out += 4
                index += 3
            }
            let remaining = bytes.count - index
            if remaining > 0 {
                var value = UInt32(bytes[index]) << 16
                if remaining == 2 {
                    value |= UInt32(bytes[index + 1]) << 8
                }
                output[out] = table[Int(value >> 18 & 63)]
                output[out + 1] = table[Int(value >> 12 & 63)]
                out += 2
                if remaining == 2 {
                    output[out] = table[Int(value >> 6 & 63)]
                    out += 1
                }
            }
            return out
        }
    }
}

extension String {
    fileprivate func replacingCRLF() -> String {
        guard self.utf8.contains(UInt8(ascii: "\r")) else { return self }
        return String(decoding: self.utf8.filter { $0 != UInt8(ascii: "\r") }, as: UTF8.self)
    }

    fileprivate func trimmingBlanks() -> String {
        let isBlank: (UInt8) -> Bool = {
            $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\t")
        }
        let bytes = Array(self.utf8)
        guard let start = bytes.firstIndex(where: { !isBlank($0) }), let end = bytes.lastIndex(where: { !isBlank($0) })
        else { return "" }
        return String(decoding: bytes[start...end], as: UTF8.self)
    }
}
