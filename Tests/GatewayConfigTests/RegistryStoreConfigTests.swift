import Foundation
import XCTest

@testable import apns_gateway

/// `liveActivities.store`: SQLite (or the older `registryPath`) or PostgreSQL, checked at the edge; the password
/// only from a private file and never in a description or an error.
final class RegistryStoreConfigTests: XCTestCase {
    private static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    private static let app = #"{"name": "demo", "teamId": "TEAM123456", "keyId": "TESTKEY123", "bundleId": "com.example.app"}"#
    private var directory: String!
    private let password = "s3cret-\(UUID().uuidString)"

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "store-config-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try (password + "\n").write(toFile: directory + "/pg.password", atomically: true, encoding: .utf8)
        chmod(directory + "/pg.password", 0o600)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func parse(_ liveActivities: String) throws -> GatewayConfig {
        let pem = try String(contentsOfFile: Self.repository + "/certs/AuthKey_TESTKEY123.p8", encoding: .utf8)
        return try GatewayConfig.parse(
            Data(#"{"environment": "sandbox", "apps": [\#(Self.app)], "liveActivities": \#(liveActivities)}"#.utf8),
            name: "test.json", baseDirectory: directory, environment: ["APNS_GATEWAY_APP_DEMO_KEY": pem])
    }

    private func store(_ liveActivities: String) throws -> RegistryStoreSettings {
        try XCTUnwrap(try parse(liveActivities).liveActivities?.store)
    }

    /// The error's text, failing when there is none.
    private func problem(_ liveActivities: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            let config = try parse(liveActivities)
            XCTFail("accepted: \(String(describing: config.liveActivities?.store))", file: file, line: line)
            return ""
        } catch {
            return "\(error)"
        }
    }

    func testSQLiteAsRegistryPathOrStore() throws {
        XCTAssertEqual(try store(#"{"registryPath": "r.sqlite"}"#), .sqlite(path: directory + "/r.sqlite"))
        XCTAssertEqual(try store(#"{"store": {"sqlite": {"path": "s/r.sqlite"}}}"#), .sqlite(path: directory + "/s/r.sqlite"))
        XCTAssertEqual(try parse(#"{"registryPath": "/x.sqlite"}"#).liveActivities?.registryPath, "/x.sqlite")
        XCTAssertTrue(problem("{}").contains("liveActivities.registryPath: is required (or \"store\")"))
        XCTAssertTrue(problem(#"{"registryPath": "a", "store": {"sqlite": {"path": "b"}}}"#).contains("are both set"))
        XCTAssertTrue(problem(#"{"store": {}}"#).contains("exactly one of \"sqlite\" or \"postgres\"; found none"))
        XCTAssertTrue(problem(#"{"store": {"mysql": {}}}"#).contains("unknown store"))
        XCTAssertTrue(problem(#"{"store": {"sqlite": {"path": "a"}, "postgres": {}}}"#).contains("exactly one"))
        XCTAssertTrue(problem(#"{"store": {"sqlite": {}}}"#).contains("liveActivities.store.sqlite.path: is required"))
    }

    func testPostgresFromAURL() throws {
        let parsed = try store(
            #"{"store": {"postgres": {"url": "postgres://gateway@db.internal:6432/apns", "passwordFile": "pg.password", "tls": "require", "leaseSeconds": 45, "poolSize": 8}}}"#)
        guard case .postgres(let settings) = parsed else { return XCTFail("\(parsed)") }
        XCTAssertEqual(settings.host, "db.internal")
        XCTAssertEqual(settings.port, 6432)
        XCTAssertEqual(settings.user, "gateway")
        XCTAssertEqual(settings.database, "apns")
        XCTAssertEqual(settings.tls, .require)
        XCTAssertEqual(settings.leaseSeconds, 45)
        XCTAssertEqual(settings.poolSize, 8)
        XCTAssertEqual(settings.passwordFile, directory + "/pg.password")
        XCTAssertEqual(settings.password?.value, password, "read without the trailing newline")
        let configuration = settings.registryConfiguration()
        XCTAssertEqual(configuration.password, password)
        XCTAssertEqual(configuration.leaseSeconds, 45)
        // Nothing that describes it shows the password.
        for text in ["\(parsed)", "\(settings)", "\(configuration)", String(reflecting: settings)] {
            XCTAssertFalse(text.contains(password), text)
        }
        XCTAssertEqual("\(parsed)", "postgres postgres://gateway@db.internal:6432/apns (tls require, lease 45 s)")
    }

    func testPostgresFromKeysWithDefaults() throws {
        let parsed = try store(#"{"store": {"postgres": {"host": "10.0.0.5", "user": "gw", "database": "apns"}}}"#)
        guard case .postgres(let settings) = parsed else { return XCTFail("\(parsed)") }
        XCTAssertEqual(settings.port, 5432)
        XCTAssertEqual(settings.tls, .verifyFull, "verified TLS unless told otherwise")
        XCTAssertEqual(settings.leaseSeconds, 30)
        XCTAssertEqual(settings.poolSize, 4)
        XCTAssertNil(settings.password)
    }

    func testBadPostgresSettingsAreRefusedByKey() throws {
        let base = #""url": "postgres://gw@db:5432/apns""#
        let cases: [(String, String)] = [
            (#"{"url": "postgres://gw:hunter2@db/apns"}"#, "liveActivities.store.postgres.url: holds a password"),
            (#"{"url": "mysql://gw@db/apns"}"#, "liveActivities.store.postgres.url: must look like postgres://user@host:port/database"),
            (#"{"url": "postgres://db/apns"}"#, "the user is missing"),
            (#"{"url": "postgres://gw@db:99999/apns"}"#, "the port must be 1...65535"),
            (#"{"url": "postgres://gw@db"}"#, "the database is missing"),
            (#"{"url": "postgres://gw@db/apns?sslmode=disable"}"#, "parameters"),
            (#"{\#(base), "host": "other"}"#, "liveActivities.store.postgres.host: and \"url\" are both set"),
            (#"{\#(base), "password": "hunter2"}"#, "liveActivities.store.postgres.password: is not accepted"),
            (#"{\#(base), "tls": "prefer"}"#, "liveActivities.store.postgres.tls: must be \"disable\", \"require\" or \"verify-full\""),
            (#"{\#(base), "leaseSeconds": 2}"#, "liveActivities.store.postgres.leaseSeconds: must be within 5...3600"),
            (#"{\#(base), "poolSize": 0}"#, "liveActivities.store.postgres.poolSize: must be within 1...64"),
            (#"{\#(base), "passwordFile": "missing.password"}"#, "cannot read the password file"),
            (#"{\#(base), "tls": "require", "caFile": "ca.pem"}"#, "caFile: is used only with \"tls\": \"verify-full\""),
            (#"{\#(base), "poolsize": 3}"#, "liveActivities.store.postgres.poolsize: unknown key"),
            (#"{"user": "gw", "database": "apns"}"#, "liveActivities.store.postgres.url: is required"),
        ]
        for (postgres, expected) in cases {
            let text = problem(#"{"store": {"postgres": \#(postgres)}}"#)
            XCTAssertTrue(text.contains(expected), "\(postgres): \(text)")
            XCTAssertFalse(text.contains("hunter2"), text)
        }
    }

    func testThePasswordFileMustBePrivateAndNotEmpty() throws {
        let file = directory + "/open.password"
        try "pw\n".write(toFile: file, atomically: true, encoding: .utf8)
        chmod(file, 0o644)
        let open = problem(#"{"store": {"postgres": {"url": "postgres://gw@db/apns", "passwordFile": "open.password"}}}"#)
        XCTAssertTrue(open.contains("is accessible by group or others (mode 644); run: chmod 600"), open)
        try "\n".write(toFile: file, atomically: true, encoding: .utf8)
        chmod(file, 0o600)
        let empty = problem(#"{"store": {"postgres": {"url": "postgres://gw@db/apns", "passwordFile": "open.password"}}}"#)
        XCTAssertTrue(empty.contains("is empty"), empty)
    }
}
