import Crypto

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A problem in a credentials file, naming the line (never its credential).
public struct IntakeCredentialsError: Error, CustomStringConvertible, Sendable {
    public var description: String

    init(_ description: String) {
        self.description = description
    }
}

/// Who may use the network intake: the credentials file, one principal a line.
///
/// ```
/// # NAME     SCOPES               RATE        CREDENTIAL
/// backend    send,activity,stats  1000        sha256:<64 hex digits: SHA-256 of the bearer token>
/// dashboard  stats                unlimited   sha256:<…>
/// pusher     send                 500/2000    cn:<the client certificate's subject common name>
/// ```
///
/// `RATE` is notifications per second (`unlimited`, `N` with bursts of N, or `N/BURST`). Bearer tokens are
/// stored only as their SHA-256 (`apns-gateway hash-token` writes a line); a presented token is hashed and compared
/// with every stored hash in constant time. `cn:` lines name a client certificate's subject common name, used
/// when the listener asks for client certificates (`intake.tls.clientCAFile`). Blank lines and lines starting
/// with `#` are ignored.
public struct IntakeCredentials: Sendable {
    private struct TokenEntry: Sendable {
        var digest: [UInt8]
        var principal: IntakePrincipal
    }

    private var tokens: [TokenEntry] = []
    private var certificates: [String: IntakePrincipal] = [:]
    /// The principals, in file order.
    public private(set) var principals: [IntakePrincipal] = []

    /// The longest bearer token accepted in an `auth` line, in bytes.
    public static let maxTokenBytes = 1024
    /// The shortest token ``hashLine(name:scopes:rateLimit:token:)`` accepts: tokens are random secrets, not
    /// passwords.
    public static let minTokenBytes = 24

    /// Parses a credentials file's text; `source` names it in errors.
    public init(parsing text: String, source: String) throws {
        var names: Set<String> = []
        var digests: Set<[UInt8]> = []
        // "\r\n" is one Character: split on it too.
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        for (offset, rawLine) in lines.enumerated() {
            let line = rawLine.trimmingWhitespace()
            if line.isEmpty || line.hasPrefix("#") { continue }
            let at = "\(source) line \(offset + 1)"
            let fields = line.split(maxSplits: 3, whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count == 4 else {
                throw IntakeCredentialsError("\(at): expected NAME SCOPES RATE CREDENTIAL, separated by spaces")
            }
            let name = String(fields[0])
            guard name.utf8.count <= 64, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
                throw IntakeCredentialsError("\(at): the name must be up to 64 letters, digits, '-', '_' or '.'")
            }
            guard names.insert(name).inserted else {
                throw IntakeCredentialsError("\(at): the name \"\(name)\" is used twice; names must be unique")
            }
            let scopes = try Self.parseScopes(fields[1], at: at)
            let rateLimit = try Self.parseRate(fields[2], at: at)
            let principal = IntakePrincipal(name: name, scopes: scopes, rateLimit: rateLimit)
            let credential = fields[3].trimmingWhitespace()
            if credential.hasPrefix("sha256:") {
                guard let digest = Self.hexBytes(credential.dropFirst("sha256:".count)), digest.count == 32 else {
                    throw IntakeCredentialsError(
                        "\(at): after sha256: give the token's SHA-256 as 64 hex digits (apns-gateway hash-token writes the line)")
                }
                guard digests.insert(digest).inserted else {
                    throw IntakeCredentialsError("\(at): the same token hash appears twice")
                }
                tokens.append(TokenEntry(digest: digest, principal: principal))
            } else if credential.hasPrefix("cn:") {
                let commonName = String(credential.dropFirst("cn:".count)).trimmingWhitespace()
                guard !commonName.isEmpty else { throw IntakeCredentialsError("\(at): cn: needs a common name") }
                guard certificates[commonName] == nil else {
                    throw IntakeCredentialsError("\(at): the common name \"\(commonName)\" appears twice")
                }
                certificates[commonName] = principal
            } else {
                // The credential is not shown: it may be a raw token pasted by mistake.
                throw IntakeCredentialsError(
                    "\(at): the credential must be sha256:<64 hex digits> or cn:<common name>; never store a raw token "
                        + "(apns-gateway hash-token writes the line)")
            }
            principals.append(principal)
        }
    }

    /// Reads and parses a credentials file.
    public init(contentsOfFile path: String) throws {
        guard let file = fopen(path, "r") else {
            throw IntakeCredentialsError("cannot read the credentials file \(path): \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count == 0 { break }
            bytes += chunk[0..<count]
            guard bytes.count <= 4 << 20 else { throw IntakeCredentialsError("the credentials file \(path) is over 4 MiB") }
        }
        try self.init(parsing: String(decoding: bytes, as: UTF8.self), source: path)
    }

    /// True when some line names a client certificate.
    public var hasCertificatePrincipals: Bool { !certificates.isEmpty }

    /// The principal whose token hash matches `token`'s SHA-256, comparing with every entry in constant time.
    public func principal(forToken token: some StringProtocol) -> IntakePrincipal? {
        let digest = Array(SHA256.hash(data: Array(token.utf8)))
        var found: IntakePrincipal?
        for entry in tokens {
            var difference: UInt8 = 0
            for index in 0..<32 {
                difference |= entry.digest[index] ^ digest[index]
            }
            // No early exit: every entry is compared, whatever matched before.
            if difference == 0 { found = entry.principal }
        }
        return found
    }

    /// The principal a client certificate's subject common name maps to.
    public func principal(forCommonName commonName: String) -> IntakePrincipal? {
        certificates[commonName]
    }

    /// A credentials line for a bearer token: the token's SHA-256, never the token.
    public static func hashLine(
        name: String, scopes: Set<IntakeScope>, rateLimit: IntakeRateLimit?, token: String
    ) throws -> String {
        guard token.utf8.count >= minTokenBytes, token.utf8.count <= maxTokenBytes else {
            throw IntakeCredentialsError("a token must have \(minTokenBytes)...\(maxTokenBytes) bytes (use a random one)")
        }
        guard token.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw IntakeCredentialsError("a token must be printable ASCII without spaces")
        }
        guard !scopes.isEmpty else { throw IntakeCredentialsError("give at least one scope") }
        let hex = SHA256.hash(data: Array(token.utf8)).map { byte in
            let digits = Array("0123456789abcdef")
            return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
        }.joined()
        let rate = rateLimit.map { $0.burst == $0.perSecond ? "\($0.perSecond)" : "\($0.perSecond)/\($0.burst)" } ?? "unlimited"
        let line = "\(name) \(scopes.sorted().map(\.rawValue).joined(separator: ",")) \(rate) sha256:\(hex)"
        // The line must read back as written.
        _ = try IntakeCredentials(parsing: line, source: "the new line")
        return line
    }

    /// `send,activity,…` (at least one).
    public static func parseScopes(_ text: some StringProtocol, at: String) throws -> Set<IntakeScope> {
        var scopes: Set<IntakeScope> = []
        for part in text.split(separator: ",") {
            guard let scope = IntakeScope(rawValue: String(part)) else {
                let known = IntakeScope.allCases.map(\.rawValue).joined(separator: ", ")
                throw IntakeCredentialsError("\(at): unknown scope \"\(part.prefix(40))\"; known: \(known)")
            }
            scopes.insert(scope)
        }
        guard !scopes.isEmpty else { throw IntakeCredentialsError("\(at): give at least one scope") }
        return scopes
    }

    /// `unlimited`, `N` or `N/BURST`.
    public static func parseRate(_ text: some StringProtocol, at: String) throws -> IntakeRateLimit? {
        if text == "unlimited" { return nil }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        let numbers = parts.map { Int($0) }
        let range = IntakeRateLimit.range
        guard (1...2).contains(parts.count), numbers.allSatisfy({ number in number.map { range.contains($0) } ?? false }) else {
            throw IntakeCredentialsError(
                "\(at): the rate must be \"unlimited\", N or N/BURST (notifications per second, \(range.lowerBound)...\(range.upperBound))")
        }
        return IntakeRateLimit(perSecond: numbers[0]!, burst: parts.count == 2 ? numbers[1]! : nil)
    }

    private static func hexBytes(_ text: some StringProtocol) -> [UInt8]? {
        var bytes: [UInt8] = []
        var high: UInt8?
        for character in text.utf8 {
            let value: UInt8
            switch character {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = character - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = character - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): value = character - UInt8(ascii: "A") + 10
            default: return nil
            }
            if let first = high {
                bytes.append(first << 4 | value)
                high = nil
            } else {
                high = value
            }
        }
        return high == nil ? bytes : nil
    }
}

extension StringProtocol {
    fileprivate func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        guard let start = firstIndex(where: { !isSpace($0) }), let end = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[start...end])
    }
}
