import Logging
import Observability

/// Where the operations endpoint (`/metrics`, `/healthz`, `/readyz`) listens.
struct MetricsListen: Equatable {
    var host: String
    var port: Int
}

extension GatewayConfig {
    /// Reads `log` (`{"format": "logfmt"|"json", "level": …}`), the older top-level `logLevel` (still accepted,
    /// but not together with `log.level`), and `metrics` (`{"listen": "127.0.0.1:9464"}`; absent: no endpoint).
    static func parseObservability(_ root: inout ConfigObject, into config: inout GatewayConfig) throws {
        let levels = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
        func level(_ text: String, key: String) throws -> Logger.Level {
            guard let parsed = Logger.Level(rawValue: text) else { throw ConfigError(key: key, problem: "must be one of \(levels)") }
            return parsed
        }
        let oldLevel = try root.string("logLevel")
        if let oldLevel { config.logLevel = try level(oldLevel, key: "logLevel") }
        if var log = try root.object("log") {
            if let format = try log.string("format") {
                guard let parsed = LogFormat(rawValue: format) else {
                    throw ConfigError(key: "log.format", problem: "must be \"logfmt\" or \"json\"")
                }
                config.logFormat = parsed
            }
            if let text = try log.string("level") {
                guard oldLevel == nil else {
                    throw ConfigError(key: "log.level", problem: "give the level once: here or in logLevel, not both")
                }
                config.logLevel = try level(text, key: "log.level")
            }
            try log.finish()
        }
        if var metrics = try root.object("metrics") {
            guard let listen = try metrics.string("listen") else {
                throw ConfigError(key: "metrics.listen", problem: "is required: an address such as \"127.0.0.1:9464\"")
            }
            config.metricsListen = try parseListen(listen, key: "metrics.listen")
            try metrics.finish()
        }
    }

    /// `host:port` or `[v6 address]:port`.
    static func parseListen(_ text: String, key: String) throws -> MetricsListen {
        let problem = ConfigError(key: key, problem: "must be host:port, such as \"127.0.0.1:9464\" or \"[::1]:9464\"; got \"\(text)\"")
        var host: Substring
        var portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw problem }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw problem }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw problem }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            guard !host.contains(":") else { throw problem }
        }
        guard !host.isEmpty, let port = Int(portText), (0...65535).contains(port) else { throw problem }
        return MetricsListen(host: String(host), port: port)
    }
}
