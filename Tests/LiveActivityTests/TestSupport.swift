import Foundation
import LiveActivity
import NIOCore
import XCTest

/// A 64-digit hex token that differs by `seed`.
func token(_ seed: Int) -> String {
    let hex = String(seed, radix: 16)
    return String(repeating: "0", count: 64 - hex.count) + hex
}

/// The UTF-8 of a string as a buffer.
func json(_ text: String) -> ByteBuffer {
    ByteBuffer(string: text)
}

/// Runs `body` and returns the typed error it throws, failing the test if it does not throw.
@discardableResult
func assertThrows<E: Error, T>(
    _ expected: E? = nil,
    file: StaticString = #filePath,
    line: UInt = #line,
    _ body: () throws(E) -> T
) -> E? where E: Equatable {
    do {
        let value = try body()
        XCTFail("expected an error, got \(value)", file: file, line: line)
        return nil
    } catch {
        if let expected {
            XCTAssertEqual(error, expected, file: file, line: line)
        }
        return error
    }
}

/// A temporary directory holding registry databases, removed with everything in it by
/// ``remove()``.
final class TemporaryDirectory {
    let url: URL

    init() throws {
        self.url = FileManager.default.temporaryDirectory
            .appendingPathComponent("live-activity-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: self.url, withIntermediateDirectories: true)
    }

    /// A path for a database file inside the directory.
    func path(_ name: String = "registry.sqlite") -> String {
        self.url.appendingPathComponent(name).path
    }

    func remove() {
        try? FileManager.default.removeItem(at: self.url)
    }
}

/// One store for one test: each ``open()`` gives another registry object on the same data (a restart, or a
/// second process); ``remove()`` drops the data.
protocol RegistryTestStore: AnyObject {
    func open() throws -> any LiveActivityRegistry
    func remove()
}

/// An SQLite file in a temporary directory.
final class SQLiteTestStore: RegistryTestStore {
    let directory: TemporaryDirectory
    var path: String { self.directory.path() }

    init() throws {
        self.directory = try TemporaryDirectory()
    }

    func open() throws -> any LiveActivityRegistry {
        try SQLiteLiveActivityRegistry(path: self.path)
    }

    func remove() {
        self.directory.remove()
    }
}

/// The registry conformance suite: every subclass's tests run against the store ``makeStore()`` makes, a fresh
/// one per test. The suite's classes themselves run on SQLite; a subclass per class runs them on another store
/// (see `PostgresConformance.swift`).
class RegistryTestCase: XCTestCase {
    private var store: RegistryTestStore!
    private var opened: [any LiveActivityRegistry] = []

    /// The store a test runs against; subclasses for other stores override this.
    func makeStore() throws -> RegistryTestStore {
        try SQLiteTestStore()
    }

    override func setUpWithError() throws {
        self.store = try self.makeStore()
    }

    override func tearDown() {
        for registry in self.opened { registry.close() }
        self.opened = []
        self.store?.remove()
        self.store = nil
    }

    /// A registry on this test's store (another object on the same data each time).
    func openRegistry() throws -> any LiveActivityRegistry {
        let registry = try self.store.open()
        self.opened.append(registry)
        return registry
    }
}

/// A test case on an SQLite file of its own, for what only the SQLite store has (its file, pragmas, migrations).
class SQLiteTestCase: XCTestCase {
    var directory: TemporaryDirectory!
    var path: String { self.directory.path() }

    override func setUpWithError() throws {
        self.directory = try TemporaryDirectory()
    }

    override func tearDown() {
        self.directory.remove()
        self.directory = nil
    }

    func openRegistry() throws -> SQLiteLiveActivityRegistry {
        try SQLiteLiveActivityRegistry(path: self.path)
    }
}

extension ActivityTokenRegistration {
    /// A registration for the example app in production.
    static func sample(
        activity: String = "activity-1",
        device: String = "device-1",
        token seed: Int = 1,
        stream: String? = nil,
        app: String = "com.example.app",
        environment: TokenEnvironment = .production
    ) -> ActivityTokenRegistration {
        ActivityTokenRegistration(
            activityID: activity, deviceID: device, token: LiveActivityTests.token(seed), streamID: stream, app: app,
            environment: environment)
    }
}

extension PushToStartRegistration {
    static func sample(
        user: String = "user-1",
        device: String = "device-1",
        token seed: Int = 100,
        app: String = "com.example.app",
        environment: TokenEnvironment = .production
    ) -> PushToStartRegistration {
        PushToStartRegistration(userID: user, deviceID: device, token: LiveActivityTests.token(seed), app: app, environment: environment)
    }
}
