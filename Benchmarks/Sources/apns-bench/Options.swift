import Foundation

struct BenchOptions {
    enum Mode: String { case engine, client }
    var mode = Mode.engine
    var host = "127.0.0.1"
    var port = 8443
    var serverName = "localhost"
    var caFile = "certs/test-ca.pem"
    var keyFile = "certs/AuthKey_TESTKEY123.p8"
    var connections = 1
    var requests = 100_000
    var payloadSize = 210
    var window = 4_000
    var threads = 1
    var warmup = 5_000

    static let usage = """
        usage: apns-bench [--mode engine|client] [--host 127.0.0.1] [--port 8443] [--server-name localhost]
                          [--ca certs/test-ca.pem] [--key certs/AuthKey_TESTKEY123.p8] [--connections 1]
                          [--requests 100000] [--payload 210] [--window 4000] [--threads 1] [--warmup 5000]
        """

    /// The options of `arguments` (the program's name first); a usage error for an unknown option, a missing
    /// value or a value of the wrong kind.
    static func parse(_ arguments: [String]) throws(UsageError) -> BenchOptions {
        var options = BenchOptions()
        var iterator = arguments.dropFirst().makeIterator()
        while let flag = iterator.next() {
            if flag == "--help" || flag == "-h" { throw UsageError(message: nil) }
            guard let value = iterator.next() else { throw UsageError(message: "\(flag) needs a value") }
            func number(in range: ClosedRange<Int>) throws(UsageError) -> Int {
                guard let number = Int(value), range.contains(number) else {
                    throw UsageError(message: "\(flag) must be a whole number within \(range.lowerBound)...\(range.upperBound), not \(value)")
                }
                return number
            }
            switch flag {
            case "--mode":
                guard let mode = Mode(rawValue: value) else { throw UsageError(message: "--mode must be engine or client, not \(value)") }
                options.mode = mode
            case "--host": options.host = value
            case "--port": options.port = try number(in: 1...65535)
            case "--server-name": options.serverName = value
            case "--ca": options.caFile = value
            case "--key": options.keyFile = value
            case "--connections": options.connections = try number(in: 1...64)
            case "--requests": options.requests = try number(in: 1...100_000_000)
            case "--payload": options.payloadSize = try number(in: 2...65536)
            case "--window": options.window = try number(in: 1...1_000_000)
            case "--threads": options.threads = try number(in: 1...256)
            case "--warmup": options.warmup = try number(in: 0...100_000_000)
            default: throw UsageError(message: "unknown option \(flag)")
            }
        }
        return options
    }

    /// A command line apns-bench cannot run: `message` says why (nil when help was asked for).
    struct UsageError: Error {
        var message: String?
    }

    /// A JSON payload of exactly `size` bytes, shaped like an alert.
    static func payload(size: Int) -> String {
        let head = #"{"aps":{"alert":{"title":"Score update","body":""#
        let tail = #""},"sound":"default"}}"#
        let fill = max(0, size - head.utf8.count - tail.utf8.count)
        return head + String(repeating: "x", count: fill) + tail
    }

    static let token = String(repeating: "ab", count: 32)
}
