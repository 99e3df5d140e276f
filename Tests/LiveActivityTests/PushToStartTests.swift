import LiveActivity
import XCTest

class PushToStartTests: RegistryTestCase {
    private let app = "com.example.app"

    func testRegisterReplaceAndUnregister() throws {
        let registry = try self.openRegistry()
        XCTAssertEqual(try registry.registerPushToStart(PushToStartRegistration.sample(token: 100), at: 1), .created)
        XCTAssertEqual(try registry.registerPushToStart(PushToStartRegistration.sample(token: 100), at: 2), .unchanged)
        XCTAssertEqual(
            try registry.registerPushToStart(PushToStartRegistration.sample(token: 100, environment: .development), at: 3), .updated)
        XCTAssertEqual(
            try registry.registerPushToStart(PushToStartRegistration.sample(token: 101, environment: .development), at: 4),
            .replaced(oldToken: token(100)))

        let record = try XCTUnwrap(try registry.pushToStartToken(userID: "user-1", deviceID: "device-1", app: self.app))
        XCTAssertEqual(record.token, token(101))
        XCTAssertEqual(record.registration.environment, .development)
        XCTAssertEqual(record.createdAt, 1)
        XCTAssertEqual(record.updatedAt, 4)

        XCTAssertTrue(try registry.unregisterPushToStart(userID: "user-1", deviceID: "device-1", app: self.app))
        XCTAssertFalse(try registry.unregisterPushToStart(userID: "user-1", deviceID: "device-1", app: self.app))
        XCTAssertEqual(try registry.pushToStartTokens(forUsers: ["user-1"], app: self.app), [])
    }

    func testOneTokenPerUserDeviceAndApp() throws {
        let registry = try self.openRegistry()
        XCTAssertEqual(try registry.registerPushToStart(PushToStartRegistration.sample(device: "d1", token: 1), at: 1), .created)
        XCTAssertEqual(try registry.registerPushToStart(PushToStartRegistration.sample(device: "d2", token: 2), at: 1), .created)
        XCTAssertEqual(
            try registry.registerPushToStart(PushToStartRegistration.sample(device: "d1", token: 3, app: "com.example.other"), at: 1),
            .created)
        XCTAssertEqual(try registry.pushToStartTokens(forUsers: ["user-1"], app: self.app).map(\.token), [token(1), token(2)])
        XCTAssertEqual(
            try registry.pushToStartTokens(forUsers: ["user-1"], app: "com.example.other").map(\.token), [token(3)])
    }

    func testTokensForUsersKeepTheUsersOrder() throws {
        let registry = try self.openRegistry()
        XCTAssertEqual(try registry.registerPushToStart(PushToStartRegistration.sample(user: "a", device: "d2", token: 1), at: 1), .created)
        XCTAssertEqual(try registry.registerPushToStart(PushToStartRegistration.sample(user: "a", device: "d1", token: 2), at: 1), .created)
        XCTAssertEqual(try registry.registerPushToStart(PushToStartRegistration.sample(user: "b", device: "d3", token: 3), at: 1), .created)
        XCTAssertEqual(try registry.registerPushToStart(PushToStartRegistration.sample(user: "c", device: "d4", token: 4), at: 1), .created)
        let records = try registry.pushToStartTokens(forUsers: ["b", "nobody", "a", "b"], app: self.app)
        XCTAssertEqual(records.map { "\($0.userID)/\($0.registration.deviceID)" }, ["b/d3", "a/d1", "a/d2"])
        XCTAssertEqual(try registry.pushToStartTokens(forUsers: [], app: self.app), [])
    }

    func testATokenMovesToTheUserNowSignedInOnTheDevice() throws {
        let registry = try self.openRegistry()
        XCTAssertEqual(try registry.registerPushToStart(PushToStartRegistration.sample(user: "alice", token: 5), at: 1), .created)
        XCTAssertEqual(try registry.registerPushToStart(PushToStartRegistration.sample(user: "bob", token: 5), at: 2), .created)
        XCTAssertEqual(try registry.pushToStartTokens(forUsers: ["alice"], app: self.app), [])
        XCTAssertEqual(try registry.pushToStartTokens(forUsers: ["bob"], app: self.app).map(\.token), [token(5)])
        XCTAssertNil(try registry.pushToStartToken(userID: "alice", deviceID: "device-1", app: self.app))
    }

    func testATokenOfAnotherDeviceOrAppIsAConflict() throws {
        let registry = try self.openRegistry()
        XCTAssertEqual(try registry.registerPushToStart(PushToStartRegistration.sample(token: 5), at: 1), .created)
        for other in [
            PushToStartRegistration.sample(device: "device-2", token: 5),
            .sample(user: "user-2", device: "device-2", token: 5),
            .sample(token: 5, app: "com.example.other"),
        ] {
            let error = assertThrows { () throws(LiveActivityRegistryError) in try registry.registerPushToStart(other, at: 2) }
            XCTAssertEqual(
                error,
                .tokenConflict(
                    token: "\"00000000…\"", registeredTo: "device \"device-1\" for app \"com.example.app\" (user \"user-1\")"))
        }
    }

    func testBadInput() throws {
        let registry = try self.openRegistry()
        assertThrows(LiveActivityRegistryError.badIdentifier(field: "userID", problem: "is empty")) {
            () throws(LiveActivityRegistryError) in try registry.registerPushToStart(PushToStartRegistration.sample(user: ""), at: 1)
        }
        assertThrows(LiveActivityRegistryError.badIdentifier(field: "userID", problem: "is empty")) {
            () throws(LiveActivityRegistryError) in try registry.pushToStartTokens(forUsers: ["a", ""], app: "x")
        }
        assertThrows(LiveActivityRegistryError.badIdentifier(field: "app", problem: "is empty")) {
            () throws(LiveActivityRegistryError) in try registry.pushToStartTokens(forUsers: ["a"], app: "")
        }
        var badToken = PushToStartRegistration.sample()
        badToken.token = "12 34"
        let error = assertThrows { () throws(LiveActivityRegistryError) in try registry.registerPushToStart(badToken, at: 1) }
        XCTAssertEqual(error?.description, "token: device token \"12 34\" has a non-hex character at offset 2")
    }

    func testSurvivesARestart() throws {
        do {
            let registry = try self.openRegistry()
            XCTAssertEqual(try registry.registerPushToStart(PushToStartRegistration.sample(token: 9), at: 1), .created)
        }
        let registry = try self.openRegistry()
        XCTAssertEqual(try registry.pushToStartTokens(forUsers: ["user-1"], app: self.app).map(\.token), [token(9)])
    }
}
