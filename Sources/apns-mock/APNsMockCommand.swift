import ArgumentParser
import Foundation
import MockAPNs
import NIOConcurrencyHelpers
import NIOCore

/// `apns-mock`: runs a ``MockAPNsServer`` until SIGINT or SIGTERM.
///
/// On start it prints exactly one line, `apns-mock listening on <host>:<port>`, to standard output,
/// so that scripts can read the port when they asked for port 0.
@main
struct APNsMockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apns-mock",
        abstract: "A TLS + HTTP/2 look-alike of the Apple Push Notification service, for tests and demos."
    )

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on; 0 picks a free one.")
    var port = 2197

    @Option(name: .customLong("cert"), help: "Server certificate chain, PEM.")
    var certificateChainPath: String

    @Option(name: .customLong("key"), help: "Server private key, PEM.")
    var privateKeyPath: String

    @Option(
        name: .customLong("provider-key"),
        help: "An accepted ES256 provider key as KEYID:TEAMID:PUBLIC_KEY_PEM_PATH (repeatable)."
    )
    var providerKeys: [String] = []

    @Option(name: .customLong("bundle-id"), help: "An accepted app bundle id (repeatable).")
    var bundleIDs: [String] = []

    @Option(
        name: .customLong("unregistered"),
        help: "A device token answered with 410 Unregistered, as TOKEN or TOKEN:TIMESTAMP_MS (repeatable)."
    )
    var unregistered: [String] = []

    @Option(
        name: .customLong("client-ca"),
        help: "Require TLS client certificates issued by this CA (PEM); then no provider token is needed."
    )
    var clientCA: String?

    @OptionGroup(title: "Faults")
    var faults: FaultOptions

    @Option(name: .customLong("initial-streams"), help: "MAX_CONCURRENT_STREAMS before the first success.")
    var initialStreams = 1

    @Option(name: .customLong("max-streams"), help: "MAX_CONCURRENT_STREAMS after the first success.")
    var maxStreams = 1000

    @Option(name: .customLong("token-max-age"), help: "Seconds a provider token stays valid after its iat.")
    var tokenMaxAge = 3600

    @Option(name: .customLong("max-channels"), help: "Broadcast channels a bundle id may have (APNs: 10,000).")
    var maxChannels = 10_000

    @Option(
        name: .customLong("broadcast-disabled"),
        help: "A bundle id whose broadcast requests get FeatureNotEnabled (repeatable)."
    )
    var broadcastDisabled: [String] = []

    @Flag(name: .customLong("no-record"), help: "Don't keep received requests (for benchmarks).")
    var noRecord = false

    @Option(
        name: .customLong("record-file"),
        help: ArgumentHelp(
            "Append one line per request decided and per connection event to this file (also with --no-record).",
            discussion: MockAPNsServer.recordFileFormat
        )
    )
    var recordFile: String?

    @Flag(
        name: .customLong("commands-on-stdin"),
        help: ArgumentHelp(
            "Read commands from standard input, one per line.",
            discussion: """
                goaway: send GOAWAY on every open connection now; \
                faults [FAULT OPTIONS]: replace the faults (none given: clear them), e.g. faults --status-every 1:503
                """
        )
    )
    var commandsOnStdin = false

    @Flag(
        name: .customLong("no-header-validation"),
        help: "Skip HTTP/2 header-block checks (RFC 9113) in the HTTP/2 layer (for benchmarks)."
    )
    var noHeaderValidation = false

    mutating func validate() throws {
        if self.providerKeys.isEmpty && self.clientCA == nil {
            throw ValidationError("give at least one --provider-key (or --client-ca for certificate authentication)")
        }
        if self.bundleIDs.isEmpty {
            throw ValidationError("give at least one --bundle-id")
        }
    }

    func run() async throws {
        let configuration = try self.makeConfiguration()
        // Before anything is printed: a script may signal as soon as it has read the port.
        let signals = SignalLatch()
        let sources = signals.install([SIGINT, SIGTERM])
        defer {
            for source in sources {
                source.cancel()
            }
        }
        let server = try await MockAPNsServer.start(configuration: configuration)
        // Unbuffered: a script reading the port sees the line at once.
        FileHandle.standardOutput.write(Data("apns-mock listening on \(self.host):\(server.port)\n".utf8))
        if self.commandsOnStdin {
            CommandReader.start(server: server)
        }
        let signal = await signals.wait()
        FileHandle.standardError.write(Data("apns-mock: signal \(signal), shutting down\n".utf8))
        try await server.shutdown()
    }

    private func makeConfiguration() throws -> MockAPNsConfiguration {
        var configuration = MockAPNsConfiguration(
            certificateChainPath: self.certificateChainPath,
            privateKeyPath: self.privateKeyPath,
            providerKeys: try self.parseProviderKeys(),
            bundleIDs: self.bundleIDs
        )
        configuration.host = self.host
        configuration.port = self.port
        configuration.initialMaxConcurrentStreams = self.initialStreams
        configuration.authenticatedMaxConcurrentStreams = self.maxStreams
        configuration.tokenMaxAge = self.tokenMaxAge
        configuration.maxChannelsPerApp = self.maxChannels
        configuration.broadcastDisabledBundleIDs = Set(self.broadcastDisabled)
        configuration.trustRootsForClientCertificates = self.clientCA
        configuration.recordRequests = !self.noRecord
        configuration.recordBodies = !self.noRecord
        configuration.validatesHeaderBlocks = !self.noHeaderValidation
        configuration.unregisteredTokens = try self.parseUnregistered()
        configuration.faults = try self.faults.makeFaults()
        configuration.recordFilePath = self.recordFile
        return configuration
    }

    private func parseProviderKeys() throws -> [MockProviderKey] {
        var keys: [MockProviderKey] = []
        for argument in self.providerKeys {
            let parts = argument.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty, !parts[2].isEmpty else {
                throw ValidationError("--provider-key wants KEYID:TEAMID:PATH, got \(argument)")
            }
            let pem: String
            do {
                pem = try String(contentsOfFile: String(parts[2]), encoding: .utf8)
            } catch {
                throw ValidationError("cannot read provider key \(parts[2]): \(error)")
            }
            keys.append(MockProviderKey(keyID: String(parts[0]), teamID: String(parts[1]), publicKeyPEM: pem))
        }
        return keys
    }

    private func parseUnregistered() throws -> [String: Int64] {
        let nowMilliseconds = Int64(Date().timeIntervalSince1970 * 1000)
        var tokens: [String: Int64] = [:]
        for argument in self.unregistered {
            let parts = argument.split(separator: ":", maxSplits: 1)
            guard let token = parts.first, !token.isEmpty else {
                throw ValidationError("--unregistered wants TOKEN[:TIMESTAMP_MS]")
            }
            var timestamp = nowMilliseconds
            if parts.count == 2 {
                guard let given = Int64(parts[1]) else {
                    throw ValidationError("--unregistered: \(parts[1]) is not a timestamp in milliseconds")
                }
                timestamp = given
            }
            tokens[String(token)] = timestamp
        }
        return tokens
    }
}

/// Remembers the first of some signals, so that ``wait()`` returns it even when it arrived before
/// ``wait()`` was called.
final class SignalLatch: Sendable {
    private enum State {
        case waiting(CheckedContinuation<Int32, Never>?)
        case received(Int32)
    }

    private let state = NIOLockedValueBox(State.waiting(nil))

    /// Turns off the default action of `signals` (ending the process) and catches them instead.
    /// The caller keeps the returned sources alive and cancels them when done.
    func install(_ signals: [Int32]) -> [any DispatchSourceSignal] {
        let queue = DispatchQueue(label: "apns-mock.signals")
        return signals.map { number in
            Foundation.signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler {
                self.deliver(number)
            }
            source.resume()
            return source
        }
    }

    /// The first signal caught.
    func wait() async -> Int32 {
        await withCheckedContinuation { continuation in
            let caught: Int32? = self.state.withLockedValue { state in
                switch state {
                case .received(let number):
                    return number
                case .waiting:
                    state = .waiting(continuation)
                    return nil
                }
            }
            if let caught {
                continuation.resume(returning: caught)
            }
        }
    }

    private func deliver(_ number: Int32) {
        let continuation: CheckedContinuation<Int32, Never>? = self.state.withLockedValue { state in
            guard case .waiting(let continuation) = state else { return nil }
            state = .received(number)
            return continuation
        }
        continuation?.resume(returning: number)
    }
}
