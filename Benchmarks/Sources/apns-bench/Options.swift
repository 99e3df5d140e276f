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

    static func parse(_ arguments: [String]) -> BenchOptions {
        var options = BenchOptions()
        var iterator = arguments.dropFirst().makeIterator()
        while let flag = iterator.next() {
            guard let value = iterator.next() else { fatalError("\(flag) needs a value") }
            switch flag {
            case "--mode": options.mode = Mode(rawValue: value) ?? .engine
            case "--host": options.host = value
            case "--port": options.port = Int(value)!
            case "--server-name": options.serverName = value
            case "--ca": options.caFile = value
            case "--key": options.keyFile = value
            case "--connections": options.connections = Int(value)!
            case "--requests": options.requests = Int(value)!
            case "--payload": options.payloadSize = Int(value)!
            case "--window": options.window = Int(value)!
            case "--threads": options.threads = Int(value)!
            case "--warmup": options.warmup = Int(value)!
            default: fatalError("unknown option \(flag)")
            }
        }
        return options
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
