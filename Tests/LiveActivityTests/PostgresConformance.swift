import Foundation
import GatewayTestSupport
import LiveActivity
import LiveActivityPostgres
import XCTest

/// The one PostgreSQL cluster of this test run: started by the first test that needs it, stopped when the run ends.
enum TestCluster {
    private static let started: Result<PostgresCluster, PostgresClusterError> = {
        do {
            let cluster = try PostgresCluster()
            XCTestObservationCenter.shared.addTestObserver(ClusterStopper(cluster))
            return .success(cluster)
        } catch let error as PostgresClusterError {
            return .failure(error)
        } catch {
            return .failure(PostgresClusterError("\(error)"))
        }
    }()

    /// The cluster, or the error that kept it from starting (the test then fails with it).
    static func get() throws -> PostgresCluster {
        try started.get()
    }

    /// The registry settings for `database` on the cluster.
    static func configuration(database: String, leaseSeconds: Int64 = 1_000_000) throws -> PostgresRegistryConfiguration {
        let cluster = try get()
        return PostgresRegistryConfiguration(
            host: "127.0.0.1", port: cluster.port, username: cluster.user, password: cluster.password,
            database: database, tls: .disable, leaseSeconds: leaseSeconds, poolSize: 4, connectTimeout: .seconds(5),
            callTimeout: .seconds(30))
    }
}

private final class ClusterStopper: NSObject, XCTestObservation, @unchecked Sendable {
    let cluster: PostgresCluster

    init(_ cluster: PostgresCluster) {
        self.cluster = cluster
    }

    func testBundleDidFinish(_ testBundle: Bundle) {
        cluster.stop()
    }
}

/// A fresh database on the test cluster. The conformance suite runs with a lease longer than any test's clock
/// moves, so that claims behave as on SQLite; the lease itself is tested in `PostgresRegistryTests`.
final class PostgresTestStore: RegistryTestStore, Sendable {
    let database: String
    let leaseSeconds: Int64

    init(leaseSeconds: Int64 = 1_000_000) throws {
        self.database = try TestCluster.get().createDatabase()
        self.leaseSeconds = leaseSeconds
    }

    func open() throws -> any LiveActivityRegistry {
        try self.openPostgres()
    }

    func openPostgres(claimerID: String? = nil) throws -> PostgresLiveActivityRegistry {
        try PostgresLiveActivityRegistry(
            configuration: try TestCluster.configuration(database: self.database, leaseSeconds: self.leaseSeconds),
            claimerID: claimerID)
    }

    func remove() {
        try? TestCluster.get().dropDatabase(self.database)
    }
}

// The conformance suite on PostgreSQL: every test of each class, against a fresh database. XCTest on Linux runs
// only the test methods a class declares itself, so each one is restated here; `ConformanceListTests` fails
// when a test of the suite is missing from this list.

final class PostgresActivityTokenTests: ActivityTokenTests {
    override func makeStore() throws -> RegistryTestStore { try PostgresTestStore() }

    override func testRegisterReadAndDelete() throws { try super.testRegisterReadAndDelete() }
    override func testUppercaseTokenIsTheSameToken() throws { try super.testUppercaseTokenIsTheSameToken() }
    override func testIdenticalRegistrationIsIdempotent() throws { try super.testIdenticalRegistrationIsIdempotent() }
    override func testChangedDetailsAreAnUpdate() throws { try super.testChangedDetailsAreAnUpdate() }
    override func testNewTokenReplacesTheOldOne() throws { try super.testNewTokenReplacesTheOldOne() }
    override func testTokenHeldElsewhereIsAConflict() throws { try super.testTokenHeldElsewhereIsAConflict() }
    override func testActivityOfAnotherAppIsRefused() throws { try super.testActivityOfAnotherAppIsRefused() }
    override func testUnregisterAllDevicesOfAnActivityAndByToken() throws { try super.testUnregisterAllDevicesOfAnActivityAndByToken() }
    override func testTokensForStream() throws { try super.testTokensForStream() }
    override func testRegistrationsSurviveARestart() throws { try super.testRegistrationsSurviveARestart() }
    override func testTwoRegistriesOnOneFileSeeEachOther() throws { try super.testTwoRegistriesOnOneFileSeeEachOther() }
    override func testBadInputIsRefusedClearly() throws { try super.testBadInputIsRefusedClearly() }
}

final class PostgresChannelRegistryTests: ChannelRegistryTests {
    override func makeStore() throws -> RegistryTestStore { try PostgresTestStore() }

    override func testChannelsAreKeptPerAppAndEnvironment() throws { try super.testChannelsAreKeptPerAppAndEnvironment() }
    override func testDeletingAChannelUnbindsIt() throws { try super.testDeletingAChannelUnbindsIt() }
    override func testRebindingAndUnbinding() throws { try super.testRebindingAndUnbinding() }
}

final class PostgresDeadTokenTests: DeadTokenTests {
    override func makeStore() throws -> RegistryTestStore { try PostgresTestStore() }

    override func testDeadTokensAreSkippedAndRevivedByALaterRegistration() throws { try super.testDeadTokensAreSkippedAndRevivedByALaterRegistration() }
    override func testADeathOlderThanTheLastRegistrationIsIgnored() throws { try super.testADeathOlderThanTheLastRegistrationIsIgnored() }
    override func testTheLatestDeathIsKept() throws { try super.testTheLatestDeathIsKept() }
    override func testANewTokenReplacesADeadOne() throws { try super.testANewTokenReplacesADeadOne() }
    override func testMarkDeadReachesPushToStartTokens() throws { try super.testMarkDeadReachesPushToStartTokens() }
    override func testUnknownTokensAndBadInput() throws { try super.testUnknownTokensAndBadInput() }
    override func testDeadStateSurvivesARestartAndRevivalToo() throws { try super.testDeadStateSurvivesARestartAndRevivalToo() }
    override func testQueriesIncludingDeadTokensAndTheDeadAmongSomeTokens() throws { try super.testQueriesIncludingDeadTokensAndTheDeadAmongSomeTokens() }
}

final class PostgresEndedActivityTests: EndedActivityTests {
    override func makeStore() throws -> RegistryTestStore { try PostgresTestStore() }

    override func testEndedActivitiesKeepTheirFirstEndTime() throws { try super.testEndedActivitiesKeepTheirFirstEndTime() }
    override func testPruningRemovesOldEndedActivitiesAndTheirTokens() throws { try super.testPruningRemovesOldEndedActivitiesAndTheirTokens() }
    override func testScheduledEndsAreCountedByAppAndState() throws { try super.testScheduledEndsAreCountedByAppAndState() }
}

final class PostgresPushToStartTests: PushToStartTests {
    override func makeStore() throws -> RegistryTestStore { try PostgresTestStore() }

    override func testRegisterReplaceAndUnregister() throws { try super.testRegisterReplaceAndUnregister() }
    override func testOneTokenPerUserDeviceAndApp() throws { try super.testOneTokenPerUserDeviceAndApp() }
    override func testTokensForUsersKeepTheUsersOrder() throws { try super.testTokensForUsersKeepTheUsersOrder() }
    override func testATokenMovesToTheUserNowSignedInOnTheDevice() throws { try super.testATokenMovesToTheUserNowSignedInOnTheDevice() }
    override func testATokenOfAnotherDeviceOrAppIsAConflict() throws { try super.testATokenOfAnotherDeviceOrAppIsAConflict() }
    override func testBadInput() throws { try super.testBadInput() }
    override func testSurvivesARestart() throws { try super.testSurvivesARestart() }
}

final class PostgresScheduledEndTests: ScheduledEndTests {
    override func makeStore() throws -> RegistryTestStore { try PostgresTestStore() }

    override func testScheduleAndReadBack() throws { try super.testScheduleAndReadBack() }
    override func testGeneratedIDs() throws { try super.testGeneratedIDs() }
    override func testRepeatingARequestIsIdempotentButOtherDetailsConflict() throws { try super.testRepeatingARequestIsIdempotentButOtherDetailsConflict() }
    override func testDueListsWithoutClaiming() throws { try super.testDueListsWithoutClaiming() }
    override func testClaimIsExactlyOnce() throws { try super.testClaimIsExactlyOnce() }
    override func testAFiringEndCanFailWithAReason() throws { try super.testAFiringEndCanFailWithAReason() }
    override func testClaimHonoursTheLimit() throws { try super.testClaimHonoursTheLimit() }
    override func testAClaimSurvivesARestartAndIsNotRepeated() throws { try super.testAClaimSurvivesARestartAndIsNotRepeated() }
    override func testTwoProcessesClaimingTogetherNeverShareAnEnd() throws { try super.testTwoProcessesClaimingTogetherNeverShareAnEnd() }
    override func testCancel() throws { try super.testCancel() }
    override func testBadRequestsAreRefusedClearly() throws { try super.testBadRequestsAreRefusedClearly() }
}

/// Every conformance test runs on PostgreSQL too: each `test…` method of a suite class is restated in its
/// PostgreSQL subclass (XCTest on Linux does not run inherited test methods).
final class ConformanceListTests: XCTestCase {
    func testEverySuiteTestIsRestatedForPostgres() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        let restated = try String(contentsOf: folder.appendingPathComponent("PostgresConformance.swift"), encoding: .utf8)
        let suites = ["ActivityToken", "ChannelRegistry", "DeadToken", "EndedActivity", "PushToStart", "ScheduledEnd"]
        var count = 0
        for suite in suites {
            let source = try String(contentsOf: folder.appendingPathComponent("\(suite)Tests.swift"), encoding: .utf8)
            for line in source.split(separator: "\n") where line.hasPrefix("    func test") {
                let name = line.dropFirst("    func ".count).prefix { $0 != "(" }
                count += 1
                XCTAssertTrue(restated.contains("override func \(name)("), "Postgres\(suite)Tests does not restate \(name)")
            }
        }
        XCTAssertGreaterThan(count, 40)
    }
}
