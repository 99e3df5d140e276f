import APNs
import APNsCore
import ArgumentParser
import Foundation
import HTTP2Engine
import Intake
import LiveActivityService
import Logging
import NIOCore

/// `apns-gateway token --config FILE --app NAME`: prints a provider token (JWT) for debugging with curl.
struct TokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Print a provider token (JWT) for an app, e.g. for curl. Treat the output as a secret."
    )

    @Option(name: .shortAndLong, help: "The configuration file (JSON).")
    var config: String

    @Option(help: "The app's name in the configuration.")
    var app: String

    func run() throws {
        let settings: GatewayConfig
        do {
            settings = try GatewayConfig.load(path: config)
        } catch let error as ConfigError {
            throw GatewayFailure("invalid configuration \(config): \(error)")
        }
        guard let entry = settings.apps.first(where: { $0.name == app }) else {
            throw ValidationError("no app named \(app); configured: \(settings.apps.map(\.name).joined(separator: ", "))")
        }
        guard let key = entry.key else {
            throw ValidationError("app \(app) authenticates with a certificate (\(entry.keySource)): it has no provider token")
        }
        let token = try key.makeProviderToken(
            keyID: entry.keyID, teamID: entry.teamID, issuedAt: APNsProviderTokenCache.systemClock())
        print(token)
    }
}

/// `apns-gateway check-config --config FILE`: validates a configuration and exits.
struct CheckConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate a configuration file (keys are loaded, nothing is started)."
    )

    @Option(name: .shortAndLong, help: "The configuration file (JSON).")
    var config: String

    func run() throws {
        do {
            let settings = try GatewayConfig.load(path: config)
            let liveActivities = settings.liveActivities.map { "Live Activities on (registry \($0.store))" }
                ?? "Live Activities off"
            print(
                "configuration OK: \(settings.apps.count) app(s), environment \(settings.environment.name), "
                    + "socket \(settings.intake.socketPath), \(liveActivities)")
        } catch let error as ConfigError {
            throw GatewayFailure("invalid configuration \(config): \(error)")
        }
    }
}

/// `apns-gateway demo-config`: prints the built-in local configuration (the bundled mock APNs and test key).
struct DemoConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo-config",
        abstract: "Print a configuration for the bundled mock APNs (apns-mock) and the test credentials in certs/."
    )

    @Option(help: "The mock's port.")
    var port = 2197

    func run() {
        print(Self.text(port: port), terminator: "")
    }

    /// The same as config/local.json; paths are relative to the configuration file's folder. The limits it
    /// shows are the components' defaults.
    static func text(port: Int) -> String {
        func seconds(_ amount: TimeAmount) -> Int64 { amount.nanoseconds / 1_000_000_000 }
        let client = APNsClientConfiguration.self
        let intake = IntakeConfiguration.self
        return """
        {
          "environment": {"host": "127.0.0.1", "port": \(port), "serverName": "localhost", "caFile": "../certs/test-ca.pem"},
          "apps": [
            {
              "name": "demo",
              "teamId": "TEAM123456",
              "keyId": "TESTKEY123",
              "keyPath": "../certs/AuthKey_TESTKEY123.p8",
              "bundleId": "com.example.app"
            }
          ],
          "pool": {"connections": \(HTTP2PoolConfiguration.defaultConnectionCount), "maxConcurrentStreams": \(HTTP2ConnectionConfiguration.defaultMaxConcurrentStreams), "maxOutstandingBytes": \(client.defaultMaxOutstandingBytes)},
          "timeouts": {"requestSeconds": \(seconds(client.defaultRequestTimeout)), "connectSeconds": \(seconds(HTTP2ConnectionConfiguration.defaultConnectTimeout)), "shutdownGraceSeconds": \(seconds(intake.defaultShutdownGrace))},
          "retry": {"maxAttempts": \(APNsRetryPolicy.defaultMaxAttempts)},
          "intake": {
            "socketPath": "../run/apns-gateway.sock",
            "socketMode": "0\(String(intake.defaultSocketMode, radix: 8))",
            "maxLineBytes": \(intake.defaultMaxLineBytes),
            "maxBatchSize": \(intake.defaultMaxBatchSize),
            "maxConnections": \(intake.defaultMaxConnections)
          },
          "liveActivities": {
            "registryPath": "../run/live-activities.sqlite",
            "maxUsersPerStart": \(LiveActivityServiceConfiguration.defaultMaxUsersPerStart),
            "lifecycle": {
              "started": {"event": "update", "contentState": {"status": "started", "etaMinutes": "{{eta}}"}},
              "ready": {"event": "update", "contentState": {"status": "ready"}, "priority": 10, "alert": {"title": "Ready", "body": "Order {{order}} is ready"}},
              "cancelled": {"event": "end", "contentState": {"status": "cancelled"}, "dismissal": "now"},
              "expired": {"event": "end", "contentState": {"status": "expired"}, "dismissal": {"afterSeconds": 900}}
            }
          },
          "log": {"level": "\(GatewayConfig.defaultLogLevel.rawValue)"}
        }

        """
    }
}
