import ArgumentParser

/// `apns-gateway`: the daemon (`serve`) and its tools.
@main
struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apns-gateway",
        abstract: "Delivers Apple push notifications for local services over a Unix-socket NDJSON protocol.",
        discussion: """
            Commands: serve runs the daemon; check-config validates a configuration and starts nothing; send \
            hands notifications (or whole requests) to a running gateway; token prints a provider token for \
            debugging; hash-token prints a line for the network intake's credentials file; demo-config prints the configuration for the bundled mock APNs. `apns-gateway help \
            <command>` shows each one's options. The manual page apns-gateway(8) and docs/ describe the \
            configuration, the socket protocol, metrics and the systemd unit.
            """,
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
