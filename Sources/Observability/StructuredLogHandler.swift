import Logging
import NIOConcurrencyHelpers
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// How log lines are written.
public enum LogFormat: String, Sendable, CaseIterable {
    /// `ts=2026-11-23T18:45:01.123Z level=info logger=apns.client.demo msg="connection ready" connection=1`
    case logfmt
    /// `{"ts":"2026-11-23T18:45:01.123Z","level":"info","logger":"apns.client.demo","msg":"connection ready","connection":"1"}`
    case json
}

/// A swift-log handler that writes one structured line per event (logfmt or JSON) to standard error.
///
/// Values pass through ``LogScrubber`` first: a device token or a provider token that slipped into a message or
/// a metadata value is cut to a short prefix, and a private key is dropped. The gateway's own code logs tokens
/// only as prefixes already (see `APNsRedaction`); this is the net under it.
public struct StructuredLogHandler: LogHandler {
    /// The handler's level: its own once set, else the process-wide one of ``bootstrap(format:level:)``, which
    /// ``setProcessLogLevel(_:)`` changes for every logger at once (a configuration reload).
    public var logLevel: Logger.Level {
        get { ownLevel ?? Logger.Level.allCases[Int(Self.processLevel.load(ordering: .relaxed))] }
        set { ownLevel = newValue }
    }
    private var ownLevel: Logger.Level?
    private static let processLevel = Atomic<UInt8>(UInt8(Logger.Level.allCases.firstIndex(of: .info)!))
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let format: LogFormat
    private let output: LogOutput

    /// A handler for `label`, writing `format` at `level` and above to `output` (standard error by default).
    public init(label: String, format: LogFormat, level: Logger.Level = .info, output: LogOutput = .standardError) {
        self.label = label
        self.format = format
        self.ownLevel = level
        self.output = output
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let provided = metadataProvider?.get() { fields.merge(provided) { _, new in new } }
        if let extra = event.metadata { fields.merge(extra) { _, new in new } }
        if let error = event.error { fields["error"] = "\(error)" }
        let line = Self.format(
            format, timestamp: Self.timestamp(), level: event.level, label: label, message: "\(event.message)",
            metadata: fields)
        output.write(line)
    }

    /// One line (with its newline) in `format`; metadata keys sorted, values scrubbed.
    public static func format(
        _ format: LogFormat, timestamp: String, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata
    ) -> String {
        let pairs = metadata.sorted { $0.key < $1.key }.map { ($0.key, LogScrubber.scrub(flatten($0.value))) }
        let message = LogScrubber.scrub(message)
        switch format {
        case .logfmt:
            var line = "ts=\(timestamp) level=\(level.rawValue) logger=\(logfmtValue(label)) msg=\(logfmtValue(message))"
            for (key, value) in pairs {
                line += " \(logfmtKey(key))=\(logfmtValue(value))"
            }
            return line + "\n"
        case .json:
            var line = "{\"ts\":\(jsonString(timestamp)),\"level\":\(jsonString(level.rawValue)),\"logger\":\(jsonString(label)),\"msg\":\(jsonString(message))"
            for (key, value) in pairs where !["ts", "level", "logger", "msg"].contains(key) {
                line += ",\(jsonString(key)):\(jsonString(value))"
            }
            return line + "}\n"
        }
    }

    private static func flatten(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let text): text
        case .stringConvertible(let value): value.description
        case .array(let values): "[" + values.map(flatten).joined(separator: ",") + "]"
        case .dictionary(let table): "{" + table.sorted { $0.key < $1.key }.map { "\($0.key)=\(flatten($0.value))" }.joined(separator: ",") + "}"
        }
    }

    /// A logfmt value: bare when it is one plain word, quoted with `\"`, `\\` and control characters escaped
    /// otherwise.
    static func logfmtValue(_ value: String) -> String {
        let plain = !value.isEmpty && value.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value < 0x7F && $0 != "\"" && $0 != "=" && $0 != "\\" }
        return plain ? value : jsonString(value)
    }

    private static func logfmtKey(_ key: String) -> String {
        let cleaned = String(key.unicodeScalars.map { $0.value > 0x20 && $0.value < 0x7F && $0 != "=" && $0 != "\"" ? Character($0) : "_" })
        return cleaned.isEmpty ? "_" : cleaned
    }

    /// A JSON string literal.
    static func jsonString(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// Now, as RFC 3339 in UTC with milliseconds.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = time_t(now.tv_sec)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let millis = Int(now.tv_nsec) / 1_000_000
        let milliText = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(milliText)Z"
    }
}

/// Where log lines go: one `write(2)` per line under a lock, so lines from different threads never mix.
public final class LogOutput: Sendable {
    private let descriptor: Int32
    private let lock = NIOLock()

    /// Writes to a file descriptor the caller keeps open.
    public init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    /// Standard error.
    public static let standardError = LogOutput(descriptor: 2)

    func write(_ line: String) {
        var line = line
        lock.withLock {
            line.withUTF8 { bytes in
                var offset = 0
                while offset < bytes.count {
                    let written = Self.systemWrite(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                    if written <= 0 { return }
                    offset += written
                }
            }
        }
    }

    private static func systemWrite(_ descriptor: Int32, _ pointer: UnsafeRawPointer, _ count: Int) -> Int {
        #if canImport(Glibc)
        Glibc.write(descriptor, pointer, count)
        #elseif canImport(Musl)
        Musl.write(descriptor, pointer, count)
        #else
        Darwin.write(descriptor, pointer, count)
        #endif
    }
}

extension StructuredLogHandler {
    /// Makes every `Logger` in the process write `format` at `level`. Call once, before logging.
    public static func bootstrap(format: LogFormat, level: Logger.Level) {
        setProcessLogLevel(level)
        LoggingSystem.bootstrap { label in
            var handler = StructuredLogHandler(label: label, format: format)
            handler.ownLevel = nil
            return handler
        }
    }

    /// Changes the level of every logger made through ``bootstrap(format:level:)`` that has not set its own.
    public static func setProcessLogLevel(_ level: Logger.Level) {
        processLevel.store(UInt8(Logger.Level.allCases.firstIndex(of: level)!), ordering: .relaxed)
    }
}
