import ArgumentParser
import Foundation
import MockAPNs
import NIOCore
import NIOPosix

/// `latency-proxy`: a TCP proxy that delays every byte by half the round trip each way (``LatencyProxy``), for
/// benchmarks across an emulated network (Benchmarks/latency.sh). Runs until SIGINT or SIGTERM.
///
/// On start it prints exactly one line, `latency-proxy listening on <host>:<port>`, so that scripts can read
/// the port when they asked for port 0. SIGTERM or SIGINT end it (connections close with it).
@main
struct LatencyProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "latency-proxy",
        abstract: "Forward TCP connections to a server, holding every byte for half a round trip in each direction."
    )

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on; 0 picks a free one.")
    var port = 0

    @Option(help: "The server to forward to, HOST:PORT.")
    var to: String

    @Option(name: .customLong("rtt-ms"), help: "The emulated round trip in milliseconds (half each way).")
    var roundTripMilliseconds: Double

    @Option(help: "Event-loop threads.")
    var threads = 1

    func validate() throws {
        guard roundTripMilliseconds >= 0, roundTripMilliseconds <= 10_000 else {
            throw ValidationError("--rtt-ms must be within 0...10000")
        }
        guard upstream != nil else { throw ValidationError("--to must be HOST:PORT") }
        guard (1...64).contains(threads) else { throw ValidationError("--threads must be within 1...64") }
    }

    private var upstream: (host: String, port: Int)? {
        guard let colon = to.lastIndex(of: ":"), let port = Int(to[to.index(after: colon)...]), (1...65535).contains(port)
        else { return nil }
        return (String(to[..<colon]), port)
    }

    func run() async throws {
        guard let upstream else { throw ValidationError("--to must be HOST:PORT") }
        let proxy = try await LatencyProxy.start(
            host: host, port: port, upstreamHost: upstream.host, upstreamPort: upstream.port,
            roundTrip: .nanoseconds(Int64(roundTripMilliseconds * 1_000_000)), threads: threads)
        // Unbuffered: a script reading the port sees the line at once.
        FileHandle.standardOutput.write(Data("latency-proxy listening on \(host):\(proxy.port)\n".utf8))
        try await proxy.closeFuture.get()
    }
}
