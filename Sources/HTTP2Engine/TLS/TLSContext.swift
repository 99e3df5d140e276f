private import COpenSSL
private import CAPNSShims

/// An OpenSSL `SSL_CTX` configured for APNs-style HTTP/2 clients.
///
/// Immutable once built. OpenSSL allows one `SSL_CTX` to be shared by connections on many threads once it is
/// configured, which is why this type is `Sendable`.
public final class TLSContext: @unchecked Sendable {
    let context: OpaquePointer

    /// Builds the context. Throws ``TLSError`` naming the file or setting that failed.
    public init(configuration: TLSConfiguration) throws {
        guard let method = TLS_client_method(), let context = SSL_CTX_new(method) else {
            throw TLSError.contextSetup(openSSLErrorDescription("SSL_CTX_new failed"))
        }
        self.context = context
        guard capns_SSL_CTX_set_min_proto_version(context, capns_TLS1_2_VERSION()) == 1 else {
            throw TLSError.contextSetup(openSSLErrorDescription("cannot require TLS 1.2"))
        }
        _ = capns_SSL_CTX_set_mode(context, Int(SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER))
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)

        switch configuration.trust {
        case .system:
            guard SSL_CTX_set_default_verify_paths(context) == 1 else {
                throw TLSError.contextSetup(openSSLErrorDescription("cannot load the system trust store"))
            }
        case .caFile(let path):
            guard SSL_CTX_load_verify_locations(context, path, nil) == 1 else {
                throw TLSError.contextSetup(openSSLErrorDescription("cannot load CA file \(path)"))
            }
        }

        let alpn: [UInt8] = [2, UInt8(ascii: "h"), UInt8(ascii: "2")]
        guard SSL_CTX_set_alpn_protos(context, alpn, UInt32(alpn.count)) == 0 else {
            throw TLSError.contextSetup(openSSLErrorDescription("cannot set ALPN"))
        }

        switch configuration.clientCertificate {
        case nil:
            break
        case .pem(let chain, let key):
            guard SSL_CTX_use_certificate_chain_file(context, chain) == 1 else {
                throw TLSError.contextSetup(openSSLErrorDescription("cannot load client certificate \(chain)"))
            }
            guard SSL_CTX_use_PrivateKey_file(context, key, SSL_FILETYPE_PEM) == 1 else {
                throw TLSError.contextSetup(openSSLErrorDescription("cannot load client key \(key)"))
            }
            guard SSL_CTX_check_private_key(context) == 1 else {
                throw TLSError.contextSetup("client key \(key) does not match certificate \(chain)")
            }
        case .pkcs12(let path, let password):
            try Self.usePKCS12(context: context, path: path, password: password)
        }
    }

    deinit {
        SSL_CTX_free(context)
    }

    private static func usePKCS12(context: OpaquePointer, path: String, password: String) throws {
        guard let file = fopen(path, "rb") else {
            throw TLSError.contextSetup("cannot open PKCS#12 file \(path)")
        }
        defer { fclose(file) }
        guard let p12 = d2i_PKCS12_fp(file, nil) else {
            throw TLSError.contextSetup(openSSLErrorDescription("\(path) is not a PKCS#12 file"))
        }
        defer { PKCS12_free(p12) }
        var key: OpaquePointer?
        var certificate: OpaquePointer?
        var chain: OpaquePointer?
        guard PKCS12_parse(p12, password, &key, &certificate, &chain) == 1, let key, let certificate else {
            throw TLSError.contextSetup("cannot read PKCS#12 file \(path): wrong password or no key and certificate")
        }
        defer {
            EVP_PKEY_free(key)
            X509_free(certificate)
        }
        guard SSL_CTX_use_certificate(context, certificate) == 1,
              SSL_CTX_use_PrivateKey(context, key) == 1,
              SSL_CTX_check_private_key(context) == 1
        else {
            throw TLSError.contextSetup(openSSLErrorDescription("PKCS#12 key and certificate in \(path) do not match"))
        }
        if let chain {
            // Hands the extra certificates to the context, which then owns them.
            _ = SSL_CTX_ctrl(context, SSL_CTRL_CHAIN, 0, UnsafeMutableRawPointer(chain))
        }
    }
}
