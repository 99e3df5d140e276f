/// Removes secrets from text about to be logged: runs of 32 or more hex digits (device tokens, push tokens) are
/// cut to their first 8 digits and `…`; JSON Web Tokens (`eyJ…` in three dot-separated parts) become
/// `eyJ…(redacted)`; a PEM private key block becomes `(private key redacted)`.
///
/// Only for log lines (never on the push path): it walks the text once.
public enum LogScrubber {
    public static func scrub(_ text: String) -> String {
        // Fast path: most values are short words with nothing to hide.
        guard text.utf8.count >= 32 || text.contains("eyJ") else { return text }
        var bytes = Array(text.utf8)
        bytes = redactPrivateKeys(bytes)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if let end = jwtEnd(bytes, from: index) {
                out += Array("eyJ…(redacted)".utf8)
                index = end
                continue
            }
            if isHex(bytes[index]), index == 0 || !isHex(bytes[index - 1]) {
                var end = index
                while end < bytes.count && isHex(bytes[end]) { end += 1 }
                if end - index >= 32 {
                    out += bytes[index..<index + 8]
                    out += Array("…".utf8)
                } else {
                    out += bytes[index..<end]
                }
                index = end
                continue
            }
            out.append(bytes[index])
            index += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func isHex(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x66)
    }

    private static func isBase64URL(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7A) || byte == 0x2D || byte == 0x5F
    }

    /// Where a JWT starting at `start` ends: `eyJ` + base64url, `.`, base64url, `.`, base64url.
    private static func jwtEnd(_ bytes: [UInt8], from start: Int) -> Int? {
        guard start + 3 < bytes.count, bytes[start] == 0x65, bytes[start + 1] == 0x79, bytes[start + 2] == 0x4A else { return nil }
        var index = start
        for part in 0..<3 {
            let begin = index
            while index < bytes.count && isBase64URL(bytes[index]) { index += 1 }
            guard index - begin >= 2 else { return nil }
            if part < 2 {
                guard index < bytes.count, bytes[index] == 0x2E else { return nil }
                index += 1
            }
        }
        return index
    }

    /// Replaces everything from a `-----BEGIN … PRIVATE KEY-----` line to the end of its `-----END …-----` line.
    private static func redactPrivateKeys(_ bytes: [UInt8]) -> [UInt8] {
        guard let begin = find("-----BEGIN", in: bytes, from: 0),
              let marker = find("PRIVATE KEY-----", in: bytes, from: begin)
        else { return bytes }
        var result = Array(bytes[..<begin]) + Array("(private key redacted)".utf8)
        if let end = find("-----END", in: bytes, from: marker), let close = find("-----", in: bytes, from: end + 8) {
            result += bytes[(close + 5)...]
        }
        return result
    }

    private static func find(_ needle: String, in bytes: [UInt8], from start: Int) -> Int? {
        let pattern = Array(needle.utf8)
        guard bytes.count >= pattern.count, start <= bytes.count - pattern.count else { return nil }
        return (start...(bytes.count - pattern.count)).first { bytes[$0..<$0 + pattern.count].elementsEqual(pattern) }
    }
}
