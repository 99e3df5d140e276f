import NIOCore
private import COpenSSL
private import CAPNSShims

/// One client TLS session: an OpenSSL `SSL*` over two memory BIOs. It does no I/O.
///
/// Ciphertext from the network goes in through ``receiveCiphertext(_:)``; plaintext comes out of
/// ``readPlaintext(into:)``. Plaintext to send goes in through ``writePlaintext(_:)`` and the ciphertext to put
/// on the wire comes out of ``drainCiphertext(into:)``. Not thread-safe: its owner confines it to one event loop.
final class TLSConnection {
    enum HandshakeResult: Equatable {
        case incomplete
        case complete
        case failed(TLSError)
    }

    enum ReadResult: Equatable {
        case bytes(Int)
        case wantMore
        case closed
        case failed(TLSError)
    }

    private let ssl: OpaquePointer
    private let networkIn: OpaquePointer   // BIO we write received ciphertext into
    private let networkOut: OpaquePointer  // BIO we read ciphertext to send from
    private let context: TLSContext        // keeps the SSL_CTX alive

    init(context: TLSContext, serverName: String) throws {
        guard let ssl = SSL_new(context.context) else {
            throw TLSError.contextSetup(openSSLErrorDescription("SSL_new failed"))
        }
        guard let rbio = BIO_new(BIO_s_mem()), let wbio = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            throw TLSError.contextSetup("cannot allocate memory BIOs")
        }
        self.ssl = ssl
        self.networkIn = rbio
        self.networkOut = wbio
        self.context = context
        // EOF on an empty read BIO means "no data yet", not "closed".
        BIO_ctrl(rbio, BIO_C_SET_BUF_MEM_EOF_RETURN, -1, nil)
        BIO_ctrl(wbio, BIO_C_SET_BUF_MEM_EOF_RETURN, -1, nil)
        SSL_set_bio(ssl, rbio, wbio)  // the SSL now owns both BIOs
        SSL_set_connect_state(ssl)

        if Self.isIPAddress(serverName) {
            guard X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), serverName) == 1 else {
                SSL_free(ssl)
                throw TLSError.contextSetup("invalid IP address \(serverName)")
            }
        } else {
            guard capns_SSL_set_tlsext_host_name(ssl, serverName) == 1, SSL_set1_host(ssl, serverName) == 1 else {
                SSL_free(ssl)
                throw TLSError.contextSetup(openSSLErrorDescription("invalid server name \(serverName)"))
            }
        }
    }

    deinit {
        SSL_free(ssl)
    }

    /// Advances the handshake with whatever ciphertext has arrived.
    func handshake() -> HandshakeResult {
        ERR_clear_error()
        let rc = SSL_do_handshake(ssl)
        if rc == 1 {
            return .complete
        }
        let error = SSL_get_error(ssl, rc)
        switch error {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            return .incomplete
        default:
            let verify = SSL_get_verify_result(ssl)
            if verify != X509_V_OK, let text = X509_verify_cert_error_string(verify) {
                return .failed(.handshakeFailed("certificate verification failed: \(String(cString: text))"))
            }
            let errors = drainOpenSSLErrors("the server ended the handshake (SSL error \(error))")
            if errors.refusedALPN {
                // RFC 7301: the server supports none of the protocols offered.
                return .failed(.alpnNotNegotiated("the server does not support h2 (\(errors.description)); APNs requires HTTP/2"))
            }
            return .failed(.handshakeFailed(errors.description))
        }
    }

    /// The protocol ALPN agreed on, if any.
    var negotiatedALPN: String? {
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &data, &length)
        guard let data, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }

    /// The negotiated protocol version, e.g. "TLSv1.3".
    var protocolVersion: String {
        String(cString: SSL_get_version(ssl))
    }

    /// Feeds ciphertext received from the network.
    func receiveCiphertext(_ buffer: ByteBuffer) {
        buffer.withUnsafeReadableBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let n = BIO_write(networkIn, bytes.baseAddress! + offset, Int32(bytes.count - offset))
                if n <= 0 { break }  // memory BIO writes only fail on allocation failure
                offset += Int(n)
            }
        }
    }

    /// Decrypts as much plaintext as fits into `buffer`.
    func readPlaintext(into buffer: UnsafeMutableRawBufferPointer) -> ReadResult {
        ERR_clear_error()
        let n = SSL_read(ssl, buffer.baseAddress, Int32(buffer.count))
        if n > 0 {
            return .bytes(Int(n))
        }
        let error = SSL_get_error(ssl, n)
        switch error {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            return .wantMore
        case SSL_ERROR_ZERO_RETURN:
            return .closed
        default:
            return .failed(.readFailed(openSSLErrorDescription("SSL error \(error)")))
        }
    }

    /// Encrypts plaintext; the ciphertext waits in the output BIO for ``drainCiphertext(into:)``.
    func writePlaintext(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            ERR_clear_error()
            let n = SSL_write(ssl, bytes.baseAddress! + offset, Int32(bytes.count - offset))
            if n <= 0 {
                throw TLSError.writeFailed(openSSLErrorDescription("SSL error \(SSL_get_error(ssl, n))"))
            }
            offset += Int(n)
        }
    }

    /// Sends close_notify (its ciphertext then waits to be drained).
    func shutdown() {
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
    }

    /// Bytes of ciphertext waiting to be written to the network.
    var pendingCiphertext: Int {
        capns_BIO_ctrl_pending(networkOut)
    }

    /// Moves all waiting ciphertext into `buffer`.
    func drainCiphertext(into buffer: inout ByteBuffer) {
        let pending = pendingCiphertext
        guard pending > 0 else { return }
        buffer.reserveCapacity(minimumWritableBytes: pending)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: pending) { out in
            let n = BIO_read(networkOut, out.baseAddress, Int32(min(out.count, Int(Int32.max))))
            return n > 0 ? Int(n) : 0
        }
        // A memory BIO hands out everything in one read, but loop in case it did not.
        if pendingCiphertext > 0 {
            drainCiphertext(into: &buffer)
        }
    }

    private static func isIPAddress(_ host: String) -> Bool {
        host.contains(":") || (!host.isEmpty && host.allSatisfy { $0.isNumber || $0 == "." })
    }
}
