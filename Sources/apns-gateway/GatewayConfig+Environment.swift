import APNs
import APNsCore
import Foundation
import HTTP2Engine
import JSON

/// `environment`: which APNs to reach, and through which proxy; or `environments`: connections to both.
///
/// An endpoint is `"production"`, `"sandbox"`, or an object: `{"name": "production"|"sandbox"}` or a custom
/// endpoint `{"host", "port", "serverName", "caFile"}`, either with an optional `"proxy"`.
extension GatewayConfig {
    /// The connections of another environment than ``GatewayConfig/environment``'s, for an app's tokens of
    /// that environment (`environments.sandbox` next to `environments.production`).
    struct OtherEnvironment: Equatable {
        /// The tokens these connections reach.
        var tokens: APNsTokenEnvironment
        var environment: APNsClientConfiguration.Environment
        var proxy: HTTP2Proxy?
    }

    /// Reads `environment`, or `environments` (`{"production": endpoint, "sandbox": endpoint}`, either or both):
    /// the first set of connections (production when both are given), the token environment it reaches (nil: a
    /// custom endpoint under `environment`, which takes every token), and the second set.
    static func parseEnvironment(_ root: inout ConfigObject, resolve: (String) -> String) throws
        -> (APNsClientConfiguration.Environment, HTTP2Proxy?, APNsTokenEnvironment?, OtherEnvironment?)
    {
        if let both = try root.object("environments") {
            if root.raw("environment") != nil {
                throw ConfigError(key: "environment", problem: "give environment or environments, not both")
            }
            var fields = both
            var endpoints: [(APNsTokenEnvironment, APNsClientConfiguration.Environment, HTTP2Proxy?)] = []
            for (name, tokens) in [("production", APNsTokenEnvironment.production), ("sandbox", .development)] {
                guard let value = fields.raw(name) else { continue }
                let (environment, proxy) = try parseEndpoint(value, key: fields.key(name), resolve: resolve)
                endpoints.append((tokens, environment, proxy))
            }
            try fields.finish()
            guard let first = endpoints.first else {
                throw ConfigError(key: "environments", problem: "needs \"production\", \"sandbox\" or both")
            }
            let other = endpoints.dropFirst().first.map { OtherEnvironment(tokens: $0.0, environment: $0.1, proxy: $0.2) }
            return (first.1, first.2, first.0, other)
        }
        guard let value = root.raw("environment") else {
            throw ConfigError(
                key: "environment", problem: "is required: \"production\", \"sandbox\" or {\"host\", \"port\", \"caFile\"}")
        }
        let (environment, proxy) = try parseEndpoint(value, key: "environment", resolve: resolve)
        return (environment, proxy, LiveActivitySettings.tokenEnvironment(for: environment), nil)
    }

    /// One endpoint's settings at `key`.
    static func parseEndpoint(_ value: JSONValue, key: String, resolve: (String) -> String) throws
        -> (APNsClientConfiguration.Environment, HTTP2Proxy?)
    {
        if let name = value.string {
            return (try named(name, key: key), nil)
        }
        guard let object = value.object else {
            throw ConfigError(key: key, problem: "must be \"production\", \"sandbox\" or an endpoint object")
        }
        var fields = ConfigObject(JSONFields(object, path: key))
        let proxy = try parseProxy(&fields, resolve: resolve)
        if let name = try fields.string("name") {
            let environment = try named(name, key: fields.key("name"))
            try fields.finish()
            return (environment, proxy)
        }
        let host = try fields.requiredString("host")
        guard let port = try fields.int("port", in: 1...65535) else {
            throw ConfigError(key: fields.key("port"), problem: "is required")
        }
        let serverName = try fields.string("serverName")
        let caFile = try fields.string("caFile").map(resolve)
        if let caFile, !FileManager.default.isReadableFile(atPath: caFile) {
            throw ConfigError(key: fields.key("caFile"), problem: "cannot read \(caFile)")
        }
        try fields.finish()
        return (.custom(host: host, port: port, serverName: serverName, caFile: caFile), proxy)
    }

    private static func named(_ name: String, key: String) throws -> APNsClientConfiguration.Environment {
        switch name {
        case "production": return .production
        case "sandbox": return .sandbox
        default: throw ConfigError(key: key, problem: "must be \"production\", \"sandbox\" or a custom endpoint object")
        }
    }

    /// `proxy`: `"host:port"`, or `{"address": "host:port", "credentialsFile": path}` where the file (mode 600)
    /// holds `user:password` on its first line, for `Proxy-Authorization: Basic`.
    static func parseProxy(_ object: inout ConfigObject, resolve: (String) -> String) throws -> HTTP2Proxy? {
        let key = object.key("proxy")
        guard let value = object.raw("proxy") else { return nil }
        if let address = value.string {
            let (host, port) = try hostAndPort(address, key: key)
            return HTTP2Proxy(host: host, port: port)
        }
        guard let members = value.object else {
            throw ConfigError(key: key, problem: "must be \"host:port\" or {\"address\": \"host:port\", \"credentialsFile\": path}")
        }
        var fields = ConfigObject(JSONFields(members, path: key))
        let (host, port) = try hostAndPort(try fields.requiredString("address"), key: fields.key("address"))
        var credentials: HTTP2Proxy.Credentials?
        if let path = try fields.string("credentialsFile").map(resolve) {
            credentials = try readCredentials(path, key: fields.key("credentialsFile"))
        }
        try fields.finish()
        return HTTP2Proxy(host: host, port: port, credentials: credentials)
    }

    /// `host:port` (or `[v6]:port`).
    static func hostAndPort(_ text: String, key: String) throws -> (String, Int) {
        let problem = "must be host:port, such as \"proxy.internal:3128\"; got \"\(text.prefix(80))\""
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port)
        else { throw ConfigError(key: key, problem: problem) }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, !host.contains(where: { $0 == "/" || $0 == "@" || $0.isWhitespace }) else {
            throw ConfigError(key: key, problem: problem)
        }
        return (host, port)
    }

    /// Reads `user:password` from the first line of a file that only its owner may read.
    static func readCredentials(_ path: String, key: String) throws -> HTTP2Proxy.Credentials {
        try checkKeyFile(path, key: key)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(key: key, problem: "cannot read \(path)")
        }
        let line = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        guard let colon = line.firstIndex(of: ":"), colon != line.startIndex else {
            throw ConfigError(key: key, problem: "\(path) must hold user:password on its first line")
        }
        return HTTP2Proxy.Credentials(username: String(line[..<colon]), password: String(line[line.index(after: colon)...]))
    }
}
