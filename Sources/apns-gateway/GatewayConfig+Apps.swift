import APNsCore
import Foundation
import HTTP2Engine

/// One entry of `apps`: its name, bundle ID and how it authenticates — a provider-token key (`teamId`, `keyId`,
/// `keyPath` or the environment) or a client certificate (`certificate`).
extension GatewayConfig {
    static func parseApp(_ object: inout ConfigObject, environment env: [String: String], resolve: (String) -> String) throws -> App {
        let name = try object.requiredString("name")
        guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }), name.utf8.count <= 64 else {
            throw ConfigError(key: object.key("name"), problem: "use letters, digits, - and _ (at most 64)")
        }
        let bundleID = try object.requiredString("bundleId")
        if let certificate = try object.object("certificate") {
            for tokenKey in ["teamId", "keyId", "keyPath"] where object.raw(tokenKey) != nil {
                throw ConfigError(
                    key: object.key(tokenKey), problem: "an app authenticates with a certificate or a key, not both: remove one")
            }
            var fields = certificate
            let (identity, source) = try parseCertificate(&fields, resolve: resolve)
            try object.finish()
            return App(name: name, bundleID: bundleID, teamID: "", keyID: "", keySource: source, key: nil, certificate: identity)
        }
        let teamID = try identifier(&object, "teamId")
        let keyID = try identifier(&object, "keyId")
        let envName = "APNS_GATEWAY_APP_" + String(name.uppercased().map { $0.isLetter || $0.isNumber ? $0 : "_" })
        var keyPath = try object.string("keyPath").map(resolve)
        var keySource = keyPath ?? ""
        let key: APNsSigningKey
        if let pem = env[envName + "_KEY"], !pem.isEmpty {
            keySource = "$\(envName)_KEY"
            do {
                key = try APNsSigningKey(pkcs8PEM: pem)
            } catch {
                throw ConfigError(key: keySource, problem: "\(error)")
            }
        } else {
            if let override = env[envName + "_KEY_PATH"], !override.isEmpty {
                keyPath = resolve(override)
                keySource = "$\(envName)_KEY_PATH (\(override))"
            }
            guard let keyPath else {
                throw ConfigError(
                    key: object.key("keyPath"),
                    problem: "is required (or set \(envName)_KEY_PATH or \(envName)_KEY, or give a \"certificate\")")
            }
            try checkKeyFile(keyPath, key: object.key("keyPath"))
            do {
                key = try APNsSigningKey(contentsOfFile: keyPath)
            } catch {
                throw ConfigError(key: object.key("keyPath"), problem: "\(error)")
            }
        }
        try object.finish()
        return App(name: name, bundleID: bundleID, teamID: teamID, keyID: keyID, keySource: keySource, key: key, certificate: nil)
    }

    /// `certificate`: `{"pkcs12Path", "passwordFile"}` or `{"certificatePath", "privateKeyPath"}` (PEM). Files
    /// holding a private key or its password must be readable by their owner only. The identity is loaded here,
    /// so a wrong password or a key that does not match its certificate is a configuration error.
    static func parseCertificate(_ fields: inout ConfigObject, resolve: (String) -> String) throws
        -> (TLSConfiguration.ClientCertificate, String)
    {
        let identity: TLSConfiguration.ClientCertificate
        let source: String
        if let bundle = try fields.string("pkcs12Path").map(resolve) {
            try checkKeyFile(bundle, key: fields.key("pkcs12Path"))
            var password = ""
            if let passwordFile = try fields.string("passwordFile").map(resolve) {
                try checkKeyFile(passwordFile, key: fields.key("passwordFile"))
                guard let data = FileManager.default.contents(atPath: passwordFile) else {
                    throw ConfigError(key: fields.key("passwordFile"), problem: "cannot read \(passwordFile)")
                }
                password = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
            }
            for other in ["certificatePath", "privateKeyPath"] where fields.raw(other) != nil {
                throw ConfigError(key: fields.key(other), problem: "give pkcs12Path or certificatePath and privateKeyPath, not both")
            }
            identity = .pkcs12(path: bundle, password: password)
            source = bundle
        } else if let chain = try fields.string("certificatePath").map(resolve) {
            guard FileManager.default.isReadableFile(atPath: chain) else {
                throw ConfigError(key: fields.key("certificatePath"), problem: "cannot read \(chain)")
            }
            guard let privateKey = try fields.string("privateKeyPath").map(resolve) else {
                throw ConfigError(key: fields.key("privateKeyPath"), problem: "is required with certificatePath")
            }
            try checkKeyFile(privateKey, key: fields.key("privateKeyPath"))
            if fields.raw("passwordFile") != nil {
                throw ConfigError(key: fields.key("passwordFile"), problem: "only goes with pkcs12Path (PEM keys are unencrypted)")
            }
            identity = .pem(certificateChain: chain, privateKey: privateKey)
            source = chain
        } else {
            throw ConfigError(key: fields.path, problem: "needs pkcs12Path (with passwordFile) or certificatePath and privateKeyPath")
        }
        try fields.finish()
        do {
            _ = try TLSContext(configuration: TLSConfiguration(clientCertificate: identity))
        } catch {
            throw ConfigError(key: fields.path, problem: "\(error)")
        }
        return (identity, source)
    }

    private static func identifier(_ object: inout ConfigObject, _ name: String) throws -> String {
        let value = try object.requiredString(name)
        guard value.utf8.count == 10, value.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else {
            throw ConfigError(key: object.key(name), problem: "must be 10 letters or digits (as shown in Apple's developer account)")
        }
        return value
    }
}
