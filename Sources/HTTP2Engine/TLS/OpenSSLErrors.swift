private import CAPNSShims

/// Drains the calling thread's OpenSSL error queue into one line.
func openSSLErrorDescription(_ fallback: String) -> String {
    let text = withUnsafeTemporaryAllocation(of: CChar.self, capacity: 1024) { buffer -> String in
        capns_ERR_describe(buffer.baseAddress!, buffer.count)
        return String(cString: buffer.baseAddress!)
    }
    return text.isEmpty ? fallback : text
}
