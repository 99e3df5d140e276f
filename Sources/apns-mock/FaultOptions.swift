import ArgumentParser
import Foundation
import MockAPNs
import NIOCore

/// The fault options, shared by the command line and the `faults` command read from standard input.
struct FaultOptions: ParsableArguments {
    @Option(name: .customLong("goaway-after"), help: "Per connection: send GOAWAY after N answered streams.")
    var goawayAfter: Int?

    @Option(
        name: .customLong("close-after"),
        help: "Per connection: drop the TCP connection when the N-th request has arrived."
    )
    var closeAfter: Int?

    @Option(name: .customLong("reset-every"), help: "Reset every N-th stream (server-wide) with RST_STREAM.")
    var resetEvery: Int?

    @Option(
        name: .customLong("status-every"),
        help: "Answer every N-th stream (server-wide) with STATUS, as N:STATUS (429, 500 or 503)."
    )
    var statusEvery: String?

    @Option(name: .customLong("delay-ms"), help: "Delay every response by this many milliseconds.")
    var delayMilliseconds: Int?

    @Option(name: .customLong("stall-after"), help: "Per connection: stop answering anything after N requests.")
    var stallAfter: Int?

    @Option(
        name: .customLong("stall-connections"),
        help: "With --stall-after: only the first N connections accepted (server-wide) stall; later ones answer."
    )
    var stallConnections: Int?

    func makeFaults() throws -> MockFaults {
        var faults = MockFaults()
        faults.goawayAfterStreams = self.goawayAfter
        faults.closeAfterStreams = self.closeAfter
        faults.resetStreamEvery = self.resetEvery
        faults.stallAfterStreams = self.stallAfter
        if let stallConnections = self.stallConnections {
            guard self.stallAfter != nil else { throw ValidationError("--stall-connections needs --stall-after") }
            guard stallConnections > 0 else {
                throw ValidationError("--stall-connections wants a positive number, got \(stallConnections)")
            }
            faults.stallConnections = stallConnections
        }
        if let delay = self.delayMilliseconds {
            faults.responseDelay = .milliseconds(Int64(delay))
        }
        if let statusEvery = self.statusEvery {
            let parts = statusEvery.split(separator: ":")
            guard parts.count == 2, let every = Int(parts[0]), every > 0, let status = Int(parts[1]) else {
                throw ValidationError("--status-every wants N:STATUS, got \(statusEvery)")
            }
            faults.statusEvery = MockStatusFault(every: every, status: status)
        }
        return faults
    }
}

/// Reads commands from standard input (`--commands-on-stdin`) on a thread of its own, one per line, and
/// answers each on standard error: `goaway` sends GOAWAY on every open connection, `faults [OPTIONS]`
/// replaces the faults. End of input stops the reader, not the server.
enum CommandReader {
    static func start(server: MockAPNsServer) {
        let thread = Thread {
            while let line = readLine() {
                let words = line.split(separator: " ").map(String.init)
                guard let command = words.first else { continue }
                let reply: String
                switch command {
                case "goaway":
                    server.goAwayEverywhere()
                    reply = "GOAWAY sent on every open connection"
                case "faults":
                    do {
                        let faults = try FaultOptions.parse(Array(words.dropFirst())).makeFaults()
                        server.setFaults(faults)
                        reply = "faults set: \(words.dropFirst().joined(separator: " "))"
                    } catch {
                        reply = "faults not changed: \(FaultOptions.message(for: error))"
                    }
                default:
                    reply = "unknown command \(command) (goaway, faults [OPTIONS])"
                }
                FileHandle.standardError.write(Data("apns-mock: \(reply)\n".utf8))
            }
        }
        thread.start()
    }
}
