import APNs
import APNsCore
import APNsGatewayClient
import Foundation
import Intake
import LiveActivity
import LiveActivityService
import Logging
import MockAPNs
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import XCTest

/// The repository's root, from this file's path.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

func certificatePath(_ name: String) -> String { repositoryRoot + "/certs/" + name }

/// A fresh temporary folder with a short path (Unix socket paths must stay under 104 bytes).
func makeTemporaryDirectory() throws -> String {
    var template = Array("/tmp/la-svc-XXXXXX".utf8CString)
    guard let pointer = mkdtemp(&template) else { throw HarnessError("mkdtemp failed") }
    return String(cString: pointer)
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Test tokens: 64 hex digits derived from a number.
func deviceToken(_ number: Int) -> String {
    let hex = String(number, radix: 16)
    return String(repeating: "b", count: 64 - hex.count) + hex
}

/// A clock the test moves by hand (epoch seconds).
final class ManualClock: Sendable {
    private let value: NIOLockedValueBox<Int64>

    init(_ start: Int64) { value = NIOLockedValueBox(start) }

    var now: Int64 { value.withLockedValue { $0 } }

    func advance(by seconds: Int64) { value.withLockedValue { $0 += seconds } }

    var function: @Sendable () -> Int64 { { self.now } }
}

/// The mock APNs over TLS on loopback and, like one gateway process, an APNs client to it, a registry in a
/// temporary folder, the Live Activity service on a manual clock, and the intake with the service's operations on
/// a Unix socket. ``restart()`` replaces the process part on the same database file; ``stop()`` shuts everything
/// down.
final class ServiceHarness: Sendable {
    static let bundleID = "com.example.app"
    static let start: Int64 = 1_750_000_000

    struct Process: Sendable {
        var client: APNsClient
        var registry: SQLiteLiveActivityRegistry
        var service: LiveActivityService
        var intake: IntakeServer
    }

    let mock: MockAPNsServer
    let group: MultiThreadedEventLoopGroup
    let directory: String
    let clock: ManualClock
    let configuration: LiveActivityServiceConfiguration
    let maxOutstanding: Int
    private let current: NIOLockedValueBox<Process>

    var client: APNsClient { current.withLockedValue { $0.client } }
    var registry: SQLiteLiveActivityRegistry { current.withLockedValue { $0.registry } }
    var service: LiveActivityService { current.withLockedValue { $0.service } }
    var intake: IntakeServer { current.withLockedValue { $0.intake } }
    var socketPath: String { directory + "/intake.sock" }
    var registryPath: String { directory + "/registry.sqlite" }

    static func signingKey() throws -> APNsSigningKey {
        try APNsSigningKey(contentsOfFile: certificatePath("AuthKey_TESTKEY123.p8"))
    }

    private init(
        mock: MockAPNsServer, group: MultiThreadedEventLoopGroup, directory: String, clock: ManualClock,
        configuration: LiveActivityServiceConfiguration, maxOutstanding: Int, process: Process
    ) {
        self.mock = mock
        self.group = group
        self.directory = directory
        self.clock = clock
        self.configuration = configuration
        self.maxOutstanding = maxOutstanding
        self.current = NIOLockedValueBox(process)
    }

    static func start(
        configuration: LiveActivityServiceConfiguration = LiveActivityServiceConfiguration(schedulerInterval: .milliseconds(50)),
        unregistered: [String: Int64] = [:],
        maxOutstanding: Int = 300,
        scheduler: Bool = false,
        mock configure: (inout MockAPNsConfiguration) -> Void = { _ in }
    ) async throws -> ServiceHarness {
        var mockConfiguration = MockAPNsConfiguration(
            certificateChainPath: certificatePath("localhost.pem"),
            privateKeyPath: certificatePath("localhost.key"),
            providerKeys: [MockProviderKey(keyID: "TESTKEY123", teamID: "TEAM123456", publicKeyPEM: try signingKey().publicKeyPEM)],
            bundleIDs: [bundleID]
        )
        mockConfiguration.unregisteredTokens = unregistered
        configure(&mockConfiguration)
        let mock = try await MockAPNsServer.start(configuration: mockConfiguration)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let directory = try makeTemporaryDirectory()
        let clock = ManualClock(start)
        let process = try await startProcess(
            mockPort: mock.port, directory: directory, group: group, clock: clock, configuration: configuration,
            maxOutstanding: maxOutstanding, scheduler: scheduler)
        return ServiceHarness(
            mock: mock, group: group, directory: directory, clock: clock, configuration: configuration,
            maxOutstanding: maxOutstanding, process: process)
    }

    private static func startProcess(
        mockPort: Int, directory: String, group: MultiThreadedEventLoopGroup, clock: ManualClock,
        configuration: LiveActivityServiceConfiguration, maxOutstanding: Int, scheduler: Bool
    ) async throws -> Process {
        let tokens = try APNsProviderTokenCache(key: try signingKey(), keyID: "TESTKEY123", teamID: "TEAM123456")
        let client = try APNsClient(
            configuration: APNsClientConfiguration(
                environment: .custom(host: "127.0.0.1", port: mockPort, serverName: "localhost", caFile: certificatePath("test-ca.pem")),
                authentication: .token(tokens),
                connectionCount: 2,
                maxOutstanding: maxOutstanding,
                requestTimeout: .seconds(20)
            ),
            group: group,
            logger: quietLogger()
        )
        client.start()
        try await client.waitUntilReady(timeout: .seconds(10))
        let registry = try SQLiteLiveActivityRegistry(path: directory + "/registry.sqlite")
        let service = LiveActivityService(
            registry: registry,
            apps: [APNsApp(name: "demo", bundleID: bundleID, client: client, tokenEnvironment: .production)],
            configuration: configuration, group: group, logger: quietLogger(), clock: clock.function)
        let intake = try await IntakeServer.start(
            configuration: IntakeConfiguration(socketPath: directory + "/intake.sock"),
            apps: [APNsApp(name: "demo", bundleID: bundleID, client: client)],
            operations: service.operations, group: group, logger: quietLogger())
        if scheduler { service.startScheduler() }
        return Process(client: client, registry: registry, service: service, intake: intake)
    }

    /// Stops the process part the way the gateway does (scheduler, intake with its client, service, registry)
    /// and starts a new one on the same database file.
    func restart(scheduler: Bool = false) async throws {
        await stopProcess()
        let process = try await Self.startProcess(
            mockPort: mock.port, directory: directory, group: group, clock: clock, configuration: configuration,
            maxOutstanding: maxOutstanding, scheduler: scheduler)
        current.withLockedValue { $0 = process }
    }

    private func stopProcess() async {
        let process = current.withLockedValue { $0 }
        await process.service.stopScheduler()
        await process.intake.shutdown(grace: .seconds(2))
        await process.service.close()
        process.registry.close()
    }

    func stop() async throws {
        await stopProcess()
        try await mock.shutdown()
        try await group.shutdownGracefully()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Sends one request line and returns the reply as a JSON object.
    func request(_ line: String) async throws -> [String: Any] {
        let connection = try await GatewayClient.connect(path: socketPath)
        defer { Task { await connection.close() } }
        let reply = try await connection.request(line: line)
        guard let object = try JSONSerialization.jsonObject(with: Data(reply.line.utf8)) as? [String: Any] else {
            throw HarnessError("reply is not an object: \(reply.line)")
        }
        return object
    }

    /// Sends request lines pipelined on one connection; returns the replies in the order of the lines.
    func requests(_ lines: [String]) async throws -> [[String: Any]] {
        let connection = try await GatewayClient.connect(path: socketPath)
        let replies = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for (index, line) in lines.enumerated() {
                group.addTask { (index, try await connection.request(line: line).line) }
            }
            var replies = Array(repeating: "", count: lines.count)
            for try await (index, line) in group { replies[index] = line }
            return replies
        }
        await connection.close()
        return try replies.map { line in
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw HarnessError("reply is not an object: \(line)")
            }
            return object
        }
    }

    /// Registers `count` update tokens for an activity directly in the registry, devices `d0`, `d1`, ...
    func registerTokens(activityID: String, tokens: [String]) throws {
        for (index, token) in tokens.enumerated() {
            _ = try registry.register(
                ActivityTokenRegistration(
                    activityID: activityID, deviceID: "d\(index)", token: token, app: Self.bundleID, environment: .production),
                at: clock.now)
        }
    }

    /// The mock's recorded requests for the given tokens' paths.
    func received(for tokens: Set<String>) -> [MockReceivedRequest] {
        mock.received.filter { tokens.contains($0.deviceToken) }
    }
}

func quietLogger() -> Logger {
    var logger = Logger(label: "test")
    logger.logLevel = .critical
    return logger
}

/// Waits (polling, bounded) until `condition` holds; returns whether it did.
func eventually(timeout: Duration = .seconds(10), _ condition: @Sendable () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}

extension Dictionary where Key == String, Value == Any {
    var errorCode: String? { (self["error"] as? [String: Any])?["code"] as? String }
    var errorMessage: String? { (self["error"] as? [String: Any])?["message"] as? String }
    var errorField: String? { (self["error"] as? [String: Any])?["field"] as? String }
    var counts: [String: Int] { (self["counts"] as? [String: Any] ?? [:]).compactMapValues { $0 as? Int } }
    var results: [[String: Any]] { self["results"] as? [[String: Any]] ?? [] }
}
