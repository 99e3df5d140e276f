import APNs
import APNsCore
import Foundation
import GatewayTestSupport
import Intake
import Logging
import MockAPNs
import NIOCore
import NIOPosix
import XCTest

/// The repository's root, from this file's path.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

func certificatePath(_ name: String) -> String { repositoryRoot + "/certs/" + name }

/// A fresh temporary folder with a short path (Unix socket paths must stay under 104 bytes).
func makeTemporaryDirectory() throws -> String {
    var template = Array("/tmp/intake-XXXXXX".utf8CString)
    guard let pointer = mkdtemp(&template) else { throw IntakeTestError("mkdtemp failed") }
    return String(cString: pointer)
}

struct IntakeTestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Test tokens: 64 hex digits derived from a number.
func deviceToken(_ number: Int) -> String {
    let hex = String(number, radix: 16)
    return String(repeating: "a", count: 64 - hex.count) + hex
}

/// The mock APNs in-process on 127.0.0.1 port 0, an APNs client to it, and the intake on a socket in a temporary
/// folder. ``stop()`` shuts down all three.
final class IntakeHarness: Sendable {
    let mock: MockAPNsServer
    let group: MultiThreadedEventLoopGroup
    let client: APNsClient
    let tokens: APNsProviderTokenCache
    let intake: IntakeServer
    let directory: String
    var socketPath: String { directory + "/intake.sock" }

    static func signingKey() throws -> APNsSigningKey {
        try APNsSigningKey(contentsOfFile: certificatePath("AuthKey_TESTKEY123.p8"))
    }

    /// A mock that accepts the test key and bundle id.
    /// The mock's configuration for the test key and bundle id.
    static func mockConfiguration() throws -> MockAPNsConfiguration {
        MockAPNsConfiguration(
            certificateChainPath: certificatePath("localhost.pem"),
            privateKeyPath: certificatePath("localhost.key"),
            providerKeys: [MockProviderKey(keyID: "TESTKEY123", teamID: "TEAM123456", publicKeyPEM: try signingKey().publicKeyPEM)],
            bundleIDs: ["com.example.app"]
        )
    }

    static func startMock(faults: MockFaults = MockFaults(), unregistered: [String: Int64] = [:], record: Bool = false)
        async throws -> MockAPNsServer
    {
        var configuration = try mockConfiguration()
        configuration.faults = faults
        configuration.unregisteredTokens = unregistered
        configuration.recordRequests = record
        configuration.recordBodies = record
        return try await MockAPNsServer.start(configuration: configuration)
    }

    private init(
        mock: MockAPNsServer, group: MultiThreadedEventLoopGroup, client: APNsClient, tokens: APNsProviderTokenCache,
        intake: IntakeServer, directory: String
    ) {
        self.mock = mock
        self.group = group
        self.client = client
        self.tokens = tokens
        self.intake = intake
        self.directory = directory
    }

    static func start(
        maxOutstanding: Int = 20_000,
        maxLineBytes: Int = 8 * 1024 * 1024,
        maxBatchSize: Int = 10_000,
        maxConnections: Int = 1024,
        faults: MockFaults = MockFaults(),
        unregistered: [String: Int64] = [:],
        record: Bool = false,
        logger customLogger: Logger? = nil
    ) async throws -> IntakeHarness {
        let mock = try await startMock(faults: faults, unregistered: unregistered, record: record)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        if let customLogger { logger = customLogger }
        let tokens = try APNsProviderTokenCache(key: try signingKey(), keyID: "TESTKEY123", teamID: "TEAM123456")
        let client = try APNsClient(
            configuration: APNsClientConfiguration(
                environment: .custom(host: "127.0.0.1", port: mock.port, serverName: "localhost", caFile: certificatePath("test-ca.pem")),
                authentication: .token(tokens),
                connectionCount: 2,
                maxOutstanding: maxOutstanding,
                requestTimeout: .seconds(20 * Sanitizer.deadlineFactor)
            ),
            group: group,
            logger: logger
        )
        client.start()
        try await client.waitUntilReady(timeout: .seconds(10 * Sanitizer.deadlineFactor))
        let directory = try makeTemporaryDirectory()
        let intake = try await IntakeServer.start(
            configuration: IntakeConfiguration(
                socketPath: directory + "/intake.sock", maxLineBytes: maxLineBytes, maxBatchSize: maxBatchSize,
                maxConnections: maxConnections),
            apps: [APNsApp(name: "demo", bundleID: "com.example.app", client: client)],
            group: group,
            logger: logger
        )
        return IntakeHarness(mock: mock, group: group, client: client, tokens: tokens, intake: intake, directory: directory)
    }

    func stop() async throws {
        await intake.shutdown(grace: .seconds(2))
        try await mock.shutdown()
        try await group.shutdownGracefully()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// The resident set size of this process, in KiB, from /proc/self/status.
/// This process's memory in use, KiB: under AddressSanitizer or ThreadSanitizer the heap bytes allocated
/// and not yet freed (the sanitizers' shadow memory and ASan's quarantine of freed blocks inflate RSS by
/// hundreds of MiB, whatever the code does), else the resident set.
func memoryInUseKiB() -> Int {
    if let allocatedBytes = Sanitizer.allocatedBytes { return allocatedBytes() / 1024 }
    return residentKiB()
}

func residentKiB(pid: String = "self") -> Int {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
    for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }
    return 0
}

