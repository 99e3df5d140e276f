/// How a client connection sets up TLS.
///
/// TLS 1.2 or later, ALPN `h2` required, SNI and host-name verification always on.
public struct TLSConfiguration: Sendable, Hashable {
    /// Where trusted roots come from.
    public enum Trust: Sendable, Hashable {
        /// The operating system's default trust store.
        case system
        /// A PEM file of CA certificates (for a private CA such as the mock's).
        case caFile(String)
    }

    /// A client certificate for certificate-based APNs authentication.
    public enum ClientCertificate: Sendable, Hashable {
        /// PEM certificate chain and PEM private key files.
        case pem(certificateChain: String, privateKey: String)
        /// A PKCS#12 bundle and its password.
        case pkcs12(path: String, password: String)
    }

    public var trust: Trust
    public var clientCertificate: ClientCertificate?

    public init(trust: Trust = .system, clientCertificate: ClientCertificate? = nil) {
        self.trust = trust
        self.clientCertificate = clientCertificate
    }
}
