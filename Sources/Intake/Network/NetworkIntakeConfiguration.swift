import NIOCore
import NIOSSL

/// Settings of the network intake: the NDJSON protocol over TCP with TLS, for clients on other hosts, each
/// authenticated (a bearer token in the first line, or a client certificate) and held to its scopes and rate limit.
public struct NetworkIntakeConfiguration: Sendable {
    /// The address to listen on (`0.0.0.0`, `::`, `127.0.0.1`, a host name).
    public var host: String
    /// The TCP port; 0 picks a free one (see ``IntakeServer/networkAddress``).
    public var port: Int
    /// The server's certificate chain (PEM).
    public var certificateFile: String
    /// The server's private key (PEM).
    public var privateKeyFile: String
    /// The CA (PEM) whose client certificates are asked for and required; nil: no client certificates.
    public var clientCAFile: String?
    /// Who may connect, with which scopes and limits.
    public var credentials: IntakeCredentials
    /// How long a connection has to finish its TLS handshake and authenticate before it is answered
    /// `Unauthenticated` and closed.
    public var authTimeout: TimeAmount

    /// Creates a configuration; the TLS files are read by ``makeTLSContext()`` (at start).
    public init(
        host: String,
        port: Int,
        certificateFile: String,
        privateKeyFile: String,
        clientCAFile: String? = nil,
        credentials: IntakeCredentials,
        authTimeout: TimeAmount = NetworkIntakeConfiguration.defaultAuthTimeout
    ) {
        self.host = host
        self.port = port
        self.certificateFile = certificateFile
        self.privateKeyFile = privateKeyFile
        self.clientCAFile = clientCAFile
        self.credentials = credentials
        self.authTimeout = authTimeout
    }

    /// The default of ``authTimeout``.
    public static let defaultAuthTimeout: TimeAmount = .seconds(10)
    /// The values of ``authTimeout`` worth configuring.
    public static let authTimeoutRange: ClosedRange<TimeAmount> = .milliseconds(100)...(.seconds(300))
    /// The longest first line an unauthenticated connection may send, in bytes.
    public static let maxAuthLineBytes = 4096

    /// `host:port` for logs.
    public var listenDescription: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// The server's TLS context: TLS 1.2 or later, the certificate and key, and (with ``clientCAFile``) client
    /// certificates required and verified against that CA. Errors name the file, never its contents.
    public func makeTLSContext() throws -> NIOSSLContext {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificateFile)
        } catch {
            throw IntakeError("cannot read the intake's certificate \(certificateFile): \(error)")
        }
        guard !chain.isEmpty else { throw IntakeError("no certificate in \(certificateFile)") }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: privateKeyFile, format: .pem)
        } catch {
            throw IntakeError("cannot read the intake's private key \(privateKeyFile): \(error)")
        }
        var tls: TLSConfiguration
        if let clientCAFile {
            do {
                _ = try NIOSSLCertificate.fromPEMFile(clientCAFile)
            } catch {
                throw IntakeError("cannot read the client CA \(clientCAFile): \(error)")
            }
            tls = TLSConfiguration.makeServerConfigurationWithMTLS(
                certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key), trustRoots: .file(clientCAFile))
            tls.sendCANameList = true
        } else {
            tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        }
        tls.minimumTLSVersion = .tlsv12
        // After the gateway's close_notify, wait at most this long for the peer's: a refused client that never
        // answers does not hold a connection slot for long.
        tls.shutdownTimeout = .seconds(1)
        do {
            return try NIOSSLContext(configuration: tls)
        } catch {
            throw IntakeError("cannot set up the intake's TLS with \(certificateFile) and \(privateKeyFile): \(error)")
        }
    }
}
