import ArgumentParser
import Foundation
import Intake

/// `apns-gateway hash-token --name NAME --scopes send,stats [--rate N[/BURST]] [--generate]`: prints a line for the
/// network intake's credentials file (`intake.auth.tokensFile`), holding the token's SHA-256, never the token.
struct HashTokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hash-token",
        abstract: "Print a credentials line for the network intake: the bearer token's SHA-256 with a name, scopes and a rate limit.",
        discussion: """
            The token is read from standard input (one line), or made up with --generate and printed once on \
            standard error. Append the line (standard output) to the file named by intake.auth.tokensFile and \
            restart the gateway. The token never goes on the command line, where other users could see it.
            """
    )

    @Option(help: "The client's name, shown in logs and in the auth reply (letters, digits, '-', '_', '.').")
    var name: String

    @Option(help: "Comma-separated scopes: send, activity, channel, stats.")
    var scopes: String

    @Option(help: "Notifications per second: N (bursts of N), N/BURST, or unlimited.")
    var rate = "unlimited"

    @Flag(help: "Make up a random token (32 random bytes, hex) and print it on standard error.")
    var generate = false

    func run() throws {
        let scopes: Set<IntakeScope>
        let rateLimit: IntakeRateLimit?
        do {
            scopes = try IntakeCredentials.parseScopes(self.scopes, at: "--scopes")
            rateLimit = try IntakeCredentials.parseRate(rate, at: "--rate")
        } catch {
            throw ValidationError("\(error)")
        }
        let token: String
        if generate {
            var generator = SystemRandomNumberGenerator()
            token = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: .min ... .max, using: &generator)) }.joined()
        } else {
            guard let line = readLine(strippingNewline: true), !line.isEmpty else {
                throw GatewayFailure("give the token on standard input (one line), or use --generate")
            }
            token = line
        }
        let line: String
        do {
            line = try IntakeCredentials.hashLine(name: name, scopes: scopes, rateLimit: rateLimit, token: token)
        } catch {
            throw GatewayFailure("\(error)")
        }
        if generate {
            FileHandle.standardError.write(Data("token for \(name) (keep it secret; it is not stored anywhere): \(token)\n".utf8))
        }
        print(line)
    }
}
