import Foundation
import GatewayTestSupport
import LiveActivity
import LiveActivityPostgres
import XCTest

/// What only the PostgreSQL store has: versioned migrations under an advisory lock, leases on claimed ends, and
/// start-up errors that name the server's SQLSTATE.
final class PostgresRegistryTests: XCTestCase {
    private var stores: [PostgresTestStore] = []
    private var opened: [PostgresLiveActivityRegistry] = []

    override func tearDown() {
        opened.forEach { $0.close() }
        stores.forEach { $0.remove() }
        opened = []
        stores = []
    }

    private func store(leaseSeconds: Int64 = 30) throws -> PostgresTestStore {
        let store = try PostgresTestStore(leaseSeconds: leaseSeconds)
        stores.append(store)
        return store
    }

    private func open(_ store: PostgresTestStore, claimer: String) throws -> PostgresLiveActivityRegistry {
        let registry = try store.openPostgres(claimerID: claimer)
        opened.append(registry)
        return registry
    }

    private func request(_ id: String, fireAt: Int64) -> ScheduledEndRequest {
        ScheduledEndRequest(id: id, activityID: "activity-\(id)", app: "com.example.app", fireAt: fireAt, contentState: "{}")
    }

    /// Gateways starting together on an empty database: each migration is applied once, the schema is usable.
    func testConcurrentStartsApplyEachMigrationOnce() throws {
        let store = try self.store()
        let results = NSLock()
        nonisolated(unsafe) var errors: [String] = []
        nonisolated(unsafe) var registries: [PostgresLiveActivityRegistry] = []
        DispatchQueue.concurrentPerform(iterations: 4) { index in
            do {
                let registry = try store.openPostgres(claimerID: "g\(index)")
                results.withLock { registries.append(registry) }
            } catch {
                results.withLock { errors.append("\(error)") }
            }
        }
        opened += registries
        XCTAssertEqual(errors, [])
        let rows = try TestCluster.get().superuser(
            "SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations", database: store.database)
        XCTAssertEqual(rows.status, 0, rows.output)
        XCTAssertEqual(rows.output, (1...PostgresLiveActivityRegistry.schemaVersion).map(String.init).joined(separator: ","))
        XCTAssertEqual(try registries[0].register(.sample(), at: 1), .created)
        XCTAssertEqual(try registries[3].tokens(forActivity: "activity-1").count, 1)
    }

    func testANewerSchemaIsRefused() throws {
        let store = try self.store()
        _ = try open(store, claimer: "first")
        let newer = PostgresLiveActivityRegistry.schemaVersion + 1
        let insert = try TestCluster.get().superuser(
            "INSERT INTO schema_migrations (version) VALUES (\(newer))", database: store.database)
        XCTAssertEqual(insert.status, 0, insert.output)
        let configuration = try TestCluster.configuration(database: store.database)
        assertThrows(LiveActivityRegistryError.unsupportedSchema(found: newer, supported: PostgresLiveActivityRegistry.schemaVersion)) {
            () throws(LiveActivityRegistryError) in _ = try PostgresLiveActivityRegistry(configuration: configuration)
        }
    }

    /// A wrong password fails at once with SQLSTATE 28P01, and nothing shows the password.
    func testAWrongPasswordFailsAtOnceNamingTheSQLState() throws {
        let store = try self.store()
        var configuration = try TestCluster.configuration(database: store.database)
        configuration.password = "not-the-password-\(UUID().uuidString)"
        let started = ContinuousClock.now
        let error = assertThrows { () throws(LiveActivityRegistryError) in
            _ = try PostgresLiveActivityRegistry(configuration: configuration)
        }
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(5))
        guard case .postgres(_, let sqlState, _)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertEqual(sqlState, "28P01")
        let text = error?.description ?? ""
        XCTAssertTrue(text.hasPrefix("PostgreSQL error 28P01 while connecting to postgres://gateway_test@127.0.0.1:"), text)
        XCTAssertFalse(text.contains(configuration.password!), text)
        XCTAssertFalse(configuration.description.contains(configuration.password!))
    }

    func testAMissingDatabaseNamesItsSQLState() throws {
        var configuration = try TestCluster.configuration(database: "no_such_database")
        configuration.connectTimeout = .seconds(5)
        let error = assertThrows { () throws(LiveActivityRegistryError) in
            _ = try PostgresLiveActivityRegistry(configuration: configuration)
        }
        guard case .postgres(_, let sqlState, _)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertEqual(sqlState, "3D000")
    }

    /// Nothing listening: start fails within the connect timeout, not after a hang.
    func testAnUnreachableServerFailsWithinTheConnectTimeout() throws {
        var configuration = try TestCluster.configuration(database: "postgres")
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) == 0 && getsockname(listener, $0, &length) == 0 }
        }
        close(listener)  // the port is free and nobody listens on it
        configuration.port = Int(UInt16(bigEndian: address.sin_port))
        configuration.connectTimeout = .seconds(3)
        let started = ContinuousClock.now
        let error = assertThrows { () throws(LiveActivityRegistryError) in
            _ = try PostgresLiveActivityRegistry(configuration: configuration)
        }
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(10))
        guard case .postgres(let operation, nil, _)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertTrue(operation.hasPrefix("connecting to postgres://"), operation)
    }

    /// A claim whose lease ran out (its gateway died) is taken over by the next claim of another gateway and
    /// marked possibly sent; before the lease ends nobody else gets it.
    func testAnExpiredLeaseIsTakenOverAndMarkedPossiblySent() throws {
        let store = try self.store(leaseSeconds: 30)
        let first = try open(store, claimer: "gateway-a")
        let second = try open(store, claimer: "gateway-b")
        _ = try first.schedule(request("x", fireAt: 100), at: 1)
        _ = try first.schedule(request("y", fireAt: 100), at: 1)
        XCTAssertEqual(try first.claimDue(now: 100, limit: 1).map(\.id), ["x"])
        XCTAssertEqual(try second.claimDue(now: 130, limit: 10).map(\.id), ["y"], "x's lease runs to 130 inclusive")
        XCTAssertEqual(try second.scheduledEnd(id: "y")?.possiblySent, false)
        XCTAssertTrue(try second.markDone(scheduledEndID: "y"))

        let takenOver = try second.claimDue(now: 131, limit: 10)
        XCTAssertEqual(takenOver.map(\.id), ["x"])
        XCTAssertEqual(takenOver.first?.possiblySent, true)
        XCTAssertEqual(takenOver.first?.claimedAt, 131)
        XCTAssertEqual(try first.claimDue(now: 140, limit: 10), [], "the new lease holds")
        XCTAssertTrue(try second.markDone(scheduledEndID: "x"))
        XCTAssertEqual(try first.scheduledEnd(id: "x")?.possiblySent, true, "kept once done")
        XCTAssertEqual(
            Set(try first.claimCounts()),
            [
                ClaimCount(claimer: "gateway-b", state: .done, possiblySent: false, count: 1),
                ClaimCount(claimer: "gateway-b", state: .done, possiblySent: true, count: 1),
            ])
    }

    /// Released (back to pending) and re-claimed within the lease is not a takeover.
    func testAReleasedEndIsNotPossiblySent() throws {
        let store = try self.store(leaseSeconds: 30)
        let registry = try open(store, claimer: "gateway-a")
        _ = try registry.schedule(request("x", fireAt: 100), at: 1)
        XCTAssertEqual(try registry.claimDue(now: 100, limit: 1).map(\.id), ["x"])
        XCTAssertTrue(try registry.release(scheduledEndID: "x"))
        XCTAssertEqual(try registry.claimDue(now: 101, limit: 1).first?.possiblySent, false)
    }

    /// Three gateways claiming 600 due ends at once, SKIP LOCKED: every end goes to exactly one of them.
    func testConcurrentClaimersShareNothing() throws {
        let store = try self.store(leaseSeconds: 30)
        let setup = try open(store, claimer: "setup")
        for index in 0..<600 {
            _ = try setup.schedule(request(String(format: "e%04d", index), fireAt: 10), at: 1)
        }
        let registries = try (0..<3).map { try open(store, claimer: "g\($0)") }
        let lock = NSLock()
        nonisolated(unsafe) var claimed: [[String]] = [[], [], []]
        nonisolated(unsafe) var failures: [String] = []
        DispatchQueue.concurrentPerform(iterations: 3) { worker in
            while true {
                do {
                    let batch = try registries[worker].claimDue(now: 10, limit: 16)
                    if batch.isEmpty { return }
                    lock.withLock { claimed[worker] += batch.map(\.id) }
                } catch {
                    lock.withLock { failures.append("\(error)") }
                    return
                }
            }
        }
        XCTAssertEqual(failures, [])
        let all = claimed.flatMap { $0 }
        XCTAssertEqual(all.count, 600)
        XCTAssertEqual(Set(all).count, 600)
        XCTAssertEqual(try setup.scheduledEnds(state: .firing).filter(\.possiblySent), [])
    }
}
