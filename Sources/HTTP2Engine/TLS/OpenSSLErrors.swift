private import CAPNSShims

/// Drains the calling thread's OpenSSL error queue into one line.
func openSSLErrorDescription(_ fallback: String) -> String {
    drainOpenSSLErrors(fallback).description
}

/// What the calling thread's OpenSSL error queue held: one line for people, and each error's reason code
/// (`ERR_GET_REASON`) for code that needs to tell errors apart.
struct OpenSSLErrors {
    var description: String
    var reasons: [Int32]

    /// True when one of the errors says ALPN found no protocol both sides speak (the server's
    /// `no_application_protocol` alert, RFC 7301).
    var refusedALPN: Bool {
        reasons.contains(capns_SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL())
            || reasons.contains(capns_SSL_R_NO_APPLICATION_PROTOCOL())
    }
}

/// Drains the calling thread's OpenSSL error queue; `fallback` is the description when it was empty.
func drainOpenSSLErrors(_ fallback: String) -> OpenSSLErrors {
    var reasons = [Int32](repeating: 0, count: 16)
    let (text, count) = withUnsafeTemporaryAllocation(of: CChar.self, capacity: 1024) { buffer -> (String, Int) in
        let count = reasons.withUnsafeMutableBufferPointer { reasons in
            capns_ERR_describe_reasons(buffer.baseAddress!, buffer.count, reasons.baseAddress!, reasons.count)
        }
        return (String(cString: buffer.baseAddress!), count)
    }
    return OpenSSLErrors(description: text.isEmpty ? fallback : text, reasons: Array(reasons.prefix(count)))
}
