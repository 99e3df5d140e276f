import LiveActivity
import XCTest

class DeadTokenTests: RegistryTestCase {
    func testDeadTokensAreSkippedAndRevivedByALaterRegistration() throws {
        let registry = try self.openRegistry()
        XCTAssertEqual(try registry.register(.sample(device: "d1", token: 1, stream: "s"), at: 100), .created)
        XCTAssertEqual(try registry.register(.sample(device: "d2", token: 2, stream: "s"), at: 100), .created)

        XCTAssertEqual(try registry.markDead(token: token(1), at: 200, reason: "Unregistered"), 1)
        XCTAssertEqual(try registry.tokens(forActivity: "activity-1").map(\.deviceID), ["d2"])
        XCTAssertEqual(try registry.tokens(forStream: "s").map(\.deviceID), ["d2"])
        let dead = try XCTUnwrap(try registry.activityToken(activityID: "activity-1", deviceID: "d1"))
        XCTAssertTrue(dead.isDead)
        XCTAssertEqual(dead.deadAt, 200)
        XCTAssertEqual(dead.deadReason, "Unregistered")

        // A registration at or before the death does not revive it.
        XCTAssertEqual(try registry.register(.sample(device: "d1", token: 1, stream: "s"), at: 200), .stillDead(since: 200))
        XCTAssertEqual(try registry.tokens(forActivity: "activity-1").map(\.deviceID), ["d2"])

        // A registration after it does.
        XCTAssertEqual(try registry.register(.sample(device: "d1", token: 1, stream: "s"), at: 201), .revived)
        XCTAssertEqual(try registry.tokens(forActivity: "activity-1").map(\.deviceID), ["d1", "d2"])
        let revived = try XCTUnwrap(try registry.activityToken(activityID: "activity-1", deviceID: "d1"))
        XCTAssertNil(revived.deadAt)
        XCTAssertNil(revived.deadReason)
        XCTAssertEqual(revived.updatedAt, 201)
    }

    func testADeathOlderThanTheLastRegistrationIsIgnored() throws {
        let registry = try self.openRegistry()
        XCTAssertEqual(try registry.register(.sample(token: 1), at: 100), .created)
        XCTAssertEqual(try registry.register(.sample(token: 1), at: 300), .unchanged)
        // APNs's verdict predates the device's latest registration: keep the token.
        XCTAssertEqual(try registry.markDead(token: token(1), at: 250, reason: "Unregistered"), 0)
        XCTAssertEqual(try registry.tokens(forActivity: "activity-1").count, 1)
        // A death at the registration time counts.
        XCTAssertEqual(try registry.markDead(token: token(1), at: 300, reason: "BadDeviceToken"), 1)
        XCTAssertEqual(try registry.tokens(forActivity: "activity-1"), [])
    }

    func testTheLatestDeathIsKept() throws {
        let registry = try self.openRegistry()
        XCTAssertEqual(try registry.register(.sample(token: 1), at: 100), .created)
        XCTAssertEqual(try registry.markDead(token: token(1), at: 500, reason: "Unregistered"), 1)
        XCTAssertEqual(try registry.markDead(token: token(1), at: 400, reason: "BadDeviceToken"), 1)
        var record = try XCTUnwrap(try registry.activityToken(activityID: "activity-1", deviceID: "device-1"))
        XCTAssertEqual(record.deadAt, 500)
        XCTAssertEqual(record.deadReason, "Unregistered")
        XCTAssertEqual(try registry.register(.sample(token: 1), at: 450), .stillDead(since: 500))
        XCTAssertEqual(try registry.markDead(token: token(1).uppercased(), at: 600, reason: "BadDeviceToken"), 1)
        record = try XCTUnwrap(try registry.activityToken(activityID: "activity-1", deviceID: "device-1"))
        XCTAssertEqual(record.deadAt, 600)
        XCTAssertEqual(record.deadReason, "BadDeviceToken")
    }

    func testANewTokenReplacesADeadOne() throws {
        let registry = try self.openRegistry()
        XCTAssertEqual(try registry.register(.sample(token: 1), at: 100), .created)
        XCTAssertEqual(try registry.markDead(token: token(1), at: 200, reason: "Unregistered"), 1)
        // Even with a registration time before the death: the death belonged to the old token.
        XCTAssertEqual(try registry.register(.sample(token: 2), at: 150), .replaced(oldToken: token(1)))
        let records = try registry.tokens(forActivity: "activity-1")
        XCTAssertEqual(records.map(\.token), [token(2)])
        XCTAssertFalse(records[0].isDead)
    }

    func testMarkDeadReachesPushToStartTokens() throws {
        let registry = try self.openRegistry()
        XCTAssertEqual(try registry.registerPushToStart(PushToStartRegistration.sample(token: 100), at: 10), .created)
        XCTAssertEqual(try registry.register(ActivityTokenRegistration.sample(token: 1), at: 10), .created)
        XCTAssertEqual(try registry.markDead(token: token(100), at: 20, reason: "BadDeviceToken"), 1)
        XCTAssertEqual(try registry.pushToStartTokens(forUsers: ["user-1"], app: "com.example.app"), [])
        XCTAssertEqual(try registry.tokens(forActivity: "activity-1").count, 1)
        let dead = try XCTUnwrap(try registry.pushToStartToken(userID: "user-1", deviceID: "device-1", app: "com.example.app"))
        XCTAssertEqual(dead.deadAt, 20)
        XCTAssertEqual(dead.deadReason, "BadDeviceToken")
        XCTAssertEqual(try registry.registerPushToStart(PushToStartRegistration.sample(token: 100), at: 20), .stillDead(since: 20))
        XCTAssertEqual(try registry.registerPushToStart(PushToStartRegistration.sample(token: 100), at: 21), .revived)
        XCTAssertEqual(try registry.pushToStartTokens(forUsers: ["user-1"], app: "com.example.app").count, 1)
    }

    func testUnknownTokensAndBadInput() throws {
        let registry = try self.openRegistry()
        XCTAssertEqual(try registry.markDead(token: token(42), at: 1, reason: "Unregistered"), 0)
        assertThrows(LiveActivityRegistryError.badIdentifier(field: "reason", problem: "is empty")) {
            () throws(LiveActivityRegistryError) in try registry.markDead(token: token(1), at: 1, reason: "")
        }
        assertThrows(LiveActivityRegistryError.badTime(field: "death time", value: -5)) {
            () throws(LiveActivityRegistryError) in try registry.markDead(token: token(1), at: -5, reason: "x")
        }
        assertThrows { () throws(LiveActivityRegistryError) in try registry.markDead(token: "zz", at: 1, reason: "x") }
    }

    func testDeadStateSurvivesARestartAndRevivalToo() throws {
        do {
            let registry = try self.openRegistry()
            XCTAssertEqual(try registry.register(.sample(token: 1), at: 1), .created)
            XCTAssertEqual(try registry.markDead(token: token(1), at: 5, reason: "Unregistered"), 1)
        }
        do {
            let registry = try self.openRegistry()
            XCTAssertEqual(try registry.tokens(forActivity: "activity-1"), [])
            XCTAssertEqual(try registry.register(.sample(token: 1), at: 6), .revived)
        }
        let registry = try self.openRegistry()
        XCTAssertEqual(try registry.tokens(forActivity: "activity-1").map(\.token), [token(1)])
    }

    func testQueriesIncludingDeadTokensAndTheDeadAmongSomeTokens() throws {
        let registry = try self.openRegistry()
        XCTAssertEqual(try registry.register(.sample(device: "d1", token: 1), at: 100), .created)
        XCTAssertEqual(try registry.register(.sample(device: "d2", token: 2), at: 100), .created)
        XCTAssertEqual(try registry.registerPushToStart(.sample(user: "u1", device: "d1", token: 10), at: 100), .created)
        XCTAssertEqual(try registry.registerPushToStart(.sample(user: "u1", device: "d2", token: 11), at: 100), .created)
        XCTAssertEqual(try registry.markDead(token: token(2), at: 150, reason: "Unregistered"), 1)
        XCTAssertEqual(try registry.markDead(token: token(11), at: 150, reason: "BadDeviceToken"), 1)

        XCTAssertEqual(try registry.tokens(forActivity: "activity-1").map(\.deviceID), ["d1"])
        let all = try registry.allTokens(forActivity: "activity-1")
        XCTAssertEqual(all.map(\.deviceID), ["d1", "d2"])
        XCTAssertEqual(all.map(\.isDead), [false, true])
        XCTAssertEqual(try registry.pushToStartTokens(forUsers: ["u1"], app: "com.example.app").count, 1)
        XCTAssertEqual(
            try registry.allPushToStartTokens(forUsers: ["u1", "u1", "u2"], app: "com.example.app").map(\.isDead),
            [false, true])

        // Either kind, any case; unknown and malformed tokens are simply not dead.
        XCTAssertEqual(
            try registry.deadTokens(among: [token(1), token(2).uppercased(), token(11), token(99), "not hex"]),
            [token(2), token(11)])
        XCTAssertEqual(try registry.deadTokens(among: []), [])
    }
}
