import APNs
import APNsCore
import Foundation
import HTTP2Engine
import Intake
import LiveActivityService
import NIOCore
import XCTest

@testable import apns_gateway

/// The daemon's configuration restates no default or bound: what a file leaves out is the components' own
/// default, and what it may set is the components' own range.
final class GatewayConfigDefaultsTests: XCTestCase {
    private static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    private static let app = #"{"name": "demo", "teamId": "TEAM123456", "keyId": "TESTKEY123", "bundleId": "com.example.app"}"#

    /// Parses `text` as if it were in config/, with the test key given through the environment (so the key file's
    /// mode in the checkout does not matter).
    private func parse(_ text: String) throws -> GatewayConfig {
        let pem = try String(contentsOfFile: Self.repository + "/certs/AuthKey_TESTKEY123.p8", encoding: .utf8)
        return try GatewayConfig.parse(
            Data(text.utf8), name: "test.json", baseDirectory: Self.repository + "/config",
            environment: ["APNS_GATEWAY_APP_DEMO_KEY": pem])
    }

    /// A configuration with the required keys and `extra` members (`, "pool": {...}`).
    private func minimal(_ extra: String = "") -> String {
        #"{"environment": "sandbox", "apps": [\#(Self.app)]\#(extra)}"#
    }

    func testAMinimalFileGetsTheClientAndEngineDefaults() throws {
        let config = try parse(minimal())
        let client = try config.clientConfiguration(for: config.apps[0])
        let reference = APNsClientConfiguration(environment: .sandbox, authentication: client.authentication)
        let connection = HTTP2ConnectionConfiguration()
        let pool = HTTP2PoolConfiguration(host: "example.com")

        XCTAssertEqual(client.connectionCount, reference.connectionCount)
        XCTAssertEqual(client.connectionCount, pool.connectionCount)
        XCTAssertEqual(client.maxConcurrentStreams, reference.maxConcurrentStreams)
        XCTAssertEqual(client.maxConcurrentStreams, connection.maxConcurrentStreams)
        XCTAssertEqual(client.requestTimeout, reference.requestTimeout)
        XCTAssertEqual(client.retry, reference.retry)
        XCTAssertEqual(client.connectTimeout, connection.connectTimeout)
        XCTAssertEqual(client.pingInterval, connection.pingInterval)
        XCTAssertEqual(client.pingTimeout, connection.pingTimeout)
        XCTAssertEqual(client.reconnectInitialBackoff, pool.reconnectInitialBackoff)
        XCTAssertEqual(client.reconnectMaxBackoff, pool.reconnectMaxBackoff)
        XCTAssertEqual(
            client.maxOutstanding,
            APNsClientConfiguration.maxOutstanding(connectionCount: pool.connectionCount, maxConcurrentStreams: connection.maxConcurrentStreams))
        XCTAssertEqual(client.maxOutstandingBytes, reference.maxOutstandingBytes)
        XCTAssertEqual(client.maxOutstandingBytes, 4 * 1024 * 1024)
    }

    /// `pool.maxOutstandingBytes` reaches the client; a value that is not an integer is refused.
    func testMaxOutstandingBytesReachesTheClient() throws {
        let config = try parse(minimal(#", "pool": {"maxOutstandingBytes": 1048576}"#))
        XCTAssertEqual(config.maxOutstandingBytes, 1_048_576)
        XCTAssertEqual(try config.clientConfiguration(for: config.apps[0]).maxOutstandingBytes, 1_048_576)
        XCTAssertThrowsError(try parse(minimal(#", "pool": {"maxOutstandingBytes": "6 MiB"}"#)))
    }

    func testAMinimalFileGetsTheIntakeAndLiveActivityDefaults() throws {
        let config = try parse(minimal(#", "liveActivities": {"registryPath": "/tmp/registry.sqlite"}"#))
        let intake = IntakeConfiguration(socketPath: IntakeConfiguration.defaultSocketPath)
        XCTAssertEqual(config.intake.socketPath, intake.socketPath)
        XCTAssertEqual(config.intake.socketMode, intake.socketMode)
        XCTAssertNil(config.intake.socketOwner)
        XCTAssertNil(config.intake.socketGroup)
        XCTAssertEqual(config.intake.maxLineBytes, intake.maxLineBytes)
        XCTAssertEqual(config.intake.maxBatchSize, intake.maxBatchSize)
        XCTAssertEqual(config.intake.maxConnections, intake.maxConnections)
        XCTAssertEqual(config.intake.maxOperationsPerConnection, intake.maxOperationsPerConnection)
        XCTAssertEqual(config.intake.operationTimeout, intake.operationTimeout)
        XCTAssertEqual(config.shutdownGrace, IntakeConfiguration.defaultShutdownGrace)

        let service = try XCTUnwrap(config.liveActivities).serviceConfiguration(environment: config.environment)
        let reference = LiveActivityServiceConfiguration()
        XCTAssertEqual(service.maxUsersPerStart, reference.maxUsersPerStart)
        XCTAssertEqual(service.maxTokensPerStart, reference.maxTokensPerStart)
        XCTAssertEqual(service.schedulerInterval, reference.schedulerInterval)
        XCTAssertTrue(service.lifecycle.isEmpty)
        XCTAssertEqual(service.defaultTokenEnvironment, .development, "the sandbox reaches development tokens")

        XCTAssertEqual(config.logLevel, .info)
        XCTAssertEqual(config.logFormat, .logfmt)
        XCTAssertNil(config.metricsListen)
    }

    /// Every bounded key accepts its component's range and refuses just outside it.
    func testBoundsAreTheComponentsRanges() throws {
        let la = #""registryPath": "/tmp/registry.sqlite", "#
        let integers: [(section: String, key: String, prefix: String, range: ClosedRange<Int>)] = [
            ("pool", "connections", "", HTTP2PoolConfiguration.connectionCountRange),
            ("pool", "maxConcurrentStreams", "", HTTP2ConnectionConfiguration.maxConcurrentStreamsRange),
            ("pool", "maxOutstanding", "", APNsClientConfiguration.maxOutstandingRange),
            ("pool", "maxOutstandingBytes", "", APNsClientConfiguration.maxOutstandingBytesRange),
            ("retry", "maxAttempts", "", APNsRetryPolicy.maxAttemptsRange),
            ("intake", "maxLineBytes", "", IntakeConfiguration.maxLineBytesRange),
            ("intake", "maxBatchSize", "", IntakeConfiguration.maxBatchSizeRange),
            ("intake", "maxConnections", "", IntakeConfiguration.maxConnectionsRange),
            ("liveActivities", "maxUsersPerStart", la, LiveActivityServiceConfiguration.maxUsersPerStartRange),
            ("liveActivities", "maxTokensPerStart", la, LiveActivityServiceConfiguration.maxTokensPerStartRange),
        ]
        for entry in integers {
            func file(_ value: Int) -> String { minimal(#", "\#(entry.section)": {\#(entry.prefix)"\#(entry.key)": \#(value)}"#) }
            XCTAssertNoThrow(try parse(file(entry.range.lowerBound)), entry.key)
            XCTAssertNoThrow(try parse(file(entry.range.upperBound)), entry.key)
            for outside in [entry.range.lowerBound - 1, entry.range.upperBound + 1] {
                XCTAssertThrowsError(try parse(file(outside)), "\(entry.key) = \(outside)") { error in
                    XCTAssertEqual(
                        "\(error)",
                        "\(entry.section).\(entry.key): must be within \(entry.range.lowerBound)...\(entry.range.upperBound); got \(outside)")
                }
            }
        }

        let highMax = #""reconnectMaxBackoffSeconds": 600, "#
        let durations: [(section: String, key: String, prefix: String, range: ClosedRange<TimeAmount>)] = [
            ("timeouts", "requestSeconds", "", APNsClientConfiguration.requestTimeoutRange),
            ("timeouts", "connectSeconds", "", HTTP2ConnectionConfiguration.connectTimeoutRange),
            ("timeouts", "pingIntervalSeconds", "", HTTP2ConnectionConfiguration.pingIntervalRange),
            ("timeouts", "pingTimeoutSeconds", "", HTTP2ConnectionConfiguration.pingTimeoutRange),
            ("timeouts", "shutdownGraceSeconds", "", IntakeConfiguration.shutdownGraceRange),
            ("intake", "operationTimeoutSeconds", "", IntakeConfiguration.operationTimeoutRange),
            ("pool", "reconnectInitialBackoffSeconds", highMax, HTTP2PoolConfiguration.reconnectInitialBackoffRange),
            ("pool", "reconnectMaxBackoffSeconds", "", HTTP2PoolConfiguration.reconnectMaxBackoffRange),
            ("liveActivities", "schedulerIntervalSeconds", la, LiveActivityServiceConfiguration.schedulerIntervalRange),
        ]
        for entry in durations {
            func file(_ value: Double) -> String { minimal(#", "\#(entry.section)": {\#(entry.prefix)"\#(entry.key)": \#(value)}"#) }
            let lower = Double(entry.range.lowerBound.nanoseconds) / 1e9
            let upper = Double(entry.range.upperBound.nanoseconds) / 1e9
            XCTAssertNoThrow(try parse(file(upper)), entry.key)
            if entry.key != "reconnectMaxBackoffSeconds" {
                // (The longest back-off must also be at least the initial one, 0.1 s by default.)
                XCTAssertNoThrow(try parse(file(lower)), entry.key)
            }
            for outside in [lower - 0.001, upper + 1] {
                XCTAssertThrowsError(try parse(file(outside)), "\(entry.key) = \(outside)") { error in
                    // (The value read back may differ from `outside` in its last digits.)
                    let expected = "\(entry.section).\(entry.key): must be within \(lower)...\(upper) seconds; got "
                    XCTAssertTrue("\(error)".hasPrefix(expected), "\(error)")
                }
            }
        }
    }

    func testDemoConfigIsConfigLocalJSONWithLogLevelUnderLog() throws {
        let demo = DemoConfigCommand.text(port: 2197)
        let local = try String(contentsOfFile: Self.repository + "/config/local.json", encoding: .utf8)
        XCTAssertEqual(demo, local)

        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(demo.utf8)) as? [String: Any])
        XCTAssertNil(object["logLevel"])
        XCTAssertEqual((object["log"] as? [String: Any])?["level"] as? String, "info")
        let config = try parse(demo)
        XCTAssertEqual(config.logLevel, .info)
        // What the demo states is the components' defaults.
        let client = try config.clientConfiguration(for: config.apps[0])
        let reference = APNsClientConfiguration(environment: config.environment, authentication: client.authentication)
        XCTAssertEqual(client.connectionCount, reference.connectionCount)
        XCTAssertEqual(client.maxConcurrentStreams, reference.maxConcurrentStreams)
        XCTAssertEqual(client.requestTimeout, reference.requestTimeout)
        XCTAssertEqual(client.connectTimeout, reference.connectTimeout)
        XCTAssertEqual(client.retry, reference.retry)
        XCTAssertEqual(config.shutdownGrace, IntakeConfiguration.defaultShutdownGrace)
        XCTAssertEqual(config.intake.maxLineBytes, IntakeConfiguration.defaultMaxLineBytes)
        XCTAssertEqual(config.intake.socketMode, IntakeConfiguration.defaultSocketMode)
    }

    func testTheOlderLogLevelKeyIsStillRead() throws {
        XCTAssertEqual(try parse(minimal(#", "logLevel": "warning""#)).logLevel, .warning)
        XCTAssertEqual(try parse(minimal(#", "log": {"level": "debug"}"#)).logLevel, .debug)
        XCTAssertThrowsError(try parse(minimal(#", "logLevel": "info", "log": {"level": "debug"}"#))) { error in
            XCTAssertEqual("\(error)", "log.level: give the level once: here or in logLevel, not both")
        }
    }
}
