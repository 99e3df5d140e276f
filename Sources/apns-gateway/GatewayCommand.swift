import ArgumentParser

/// `apns-gateway`: the daemon (`serve`) and its tools.
@main
struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apns-gateway",
        abstract: "Delivers Apple push notifications for local services over a Unix-socket NDJSON protocol.",
        subcommands: [
            ServeCommand.self, SendCommand.self, TokenCommand.self, DemoConfigCommand.self, CheckConfigCommand.self,
            HashTokenCommand.self,
        ]
    )
}

/// A failure to report as `Error: <message>` without the usage text.
struct GatewayFailure: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) {
        self.description = description
    }
}
