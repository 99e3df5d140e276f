import Intake
import NIOCore

extension GatewayConfig {
    /// Reads the network intake from the `intake` object: `listen` (`"0.0.0.0:7443"`, `"[::1]:7443"`), `tls`
    /// (`certFile`, `keyFile`, optional `clientCAFile`) and `auth` (`tokensFile`, optional `timeoutSeconds`).
    /// Without `listen` there is none, and `tls` or `auth` alone is an error. The TLS files and the credentials
    /// are read now, so that a bad file stops the start with its name.
    static func parseNetworkIntake(_ intake: inout ConfigObject, resolve: (String) -> String) throws -> NetworkIntakeConfiguration? {
        let listenText = try intake.string("listen")
        let tls = try intake.object("tls")
        let auth = try intake.object("auth")
        guard let listenText else {
            if tls != nil || auth != nil {
                throw ConfigError(key: "intake.listen", problem: "is required with intake.tls and intake.auth: an address such as \"0.0.0.0:7443\"")
            }
            return nil
        }
        let listen = try parseListen(listenText, key: "intake.listen")
        guard var tlsObject = tls else {
            throw ConfigError(
                key: "intake.tls", problem: "is required with intake.listen: {\"certFile\": …, \"keyFile\": …}; the network intake speaks TLS only")
        }
        let certFile = resolve(try tlsObject.requiredString("certFile"))
        let keyFile = resolve(try tlsObject.requiredString("keyFile"))
        let clientCAFile = try tlsObject.string("clientCAFile").map(resolve)
        try tlsObject.finish()
        guard var authObject = auth else {
            throw ConfigError(key: "intake.auth", problem: "is required with intake.listen: {\"tokensFile\": …}")
        }
        let tokensFile = resolve(try authObject.requiredString("tokensFile"))
        let timeout =
            try duration(&authObject, "timeoutSeconds", in: NetworkIntakeConfiguration.authTimeoutRange)
            ?? NetworkIntakeConfiguration.defaultAuthTimeout
        try authObject.finish()
        let credentials: IntakeCredentials
        do {
            credentials = try IntakeCredentials(contentsOfFile: tokensFile)
        } catch {
            throw ConfigError(key: "intake.auth.tokensFile", problem: "\(error)")
        }
        guard !credentials.principals.isEmpty else {
            throw ConfigError(key: "intake.auth.tokensFile", problem: "\(tokensFile) names nobody: add a line (apns-gateway hash-token writes one)")
        }
        if credentials.hasCertificatePrincipals && clientCAFile == nil {
            throw ConfigError(
                key: "intake.tls.clientCAFile", problem: "is required: \(tokensFile) has cn: lines, which need client certificates")
        }
        let network = NetworkIntakeConfiguration(
            host: listen.host, port: listen.port, certificateFile: certFile, privateKeyFile: keyFile, clientCAFile: clientCAFile,
            credentials: credentials, authTimeout: timeout)
        do {
            _ = try network.makeTLSContext()
        } catch {
            throw ConfigError(key: "intake.tls", problem: "\(error)")
        }
        return network
    }
}
