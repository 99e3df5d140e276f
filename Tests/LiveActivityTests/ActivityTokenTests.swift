import LiveActivity
import XCTest

class ActivityTokenTests: RegistryTestCase {
    func testRegisterReadAndDelete() throws {
        let registry = try self.openRegistry()
        let registration = ActivityTokenRegistration.sample(token: 0xABC, stream: "match-7", environment: .development)
        XCTAssertEqual(try registry.register(registration, at: 100), .created)

        let records = try registry.tokens(forActivity: "activity-1")
        XCTAssertEqual(records.count, 1)
        let record = try XCTUnwrap(records.first)
        XCTAssertEqual(record.token, token(0xabc), "stored lowercased")
        XCTAssertEqual(record.registration.streamID, "match-7")
        XCTAssertEqual(record.registration.environment, .development)
        XCTAssertEqual(record.registration.app, "com.example.app")
        XCTAssertEqual(record.createdAt, 100)
        XCTAssertEqual(record.updatedAt, 100)
        XCTAssertFalse(record.isDead)
        XCTAssertEqual(try registry.activityToken(activityID: "activity-1", deviceID: "device-1"), record)

        XCTAssertEqual(try registry.unregister(activityID: "activity-1", deviceID: "device-1"), 1)
        XCTAssertEqual(try registry.tokens(forActivity: "activity-1"), [])
        XCTAssertNil(try registry.activityToken(activityID: "activity-1", deviceID: "device-1"))
        XCTAssertEqual(try registry.unregister(activityID: "activity-1", deviceID: "device-1"), 0)
    }

    func testUppercaseTokenIsTheSameToken() throws {
        let registry = try self.openRegistry()
        XCTAssertEqual(try registry.register(.sample(token: 0xabcdef), at: 1), .created)
        var upper = ActivityTokenRegistration.sample(token: 0xabcdef)
        upper.token = upper.token.uppercased()
        XCTAssertEqual(try registry.register(upper, at: 2), .unchanged)
        XCTAssertEqual(try registry.unregister(token: upper.token), 1)
    }

    func testIdenticalRegistrationIsIdempotent() throws {
        let registry = try self.openRegistry()
        let registration = ActivityTokenRegistration.sample()
        XCTAssertEqual(try registry.register(registration, at: 100), .created)
        XCTAssertEqual(try registry.register(registration, at: 150), .unchanged)
        XCTAssertEqual(try registry.register(registration, at: 120), .unchanged)
        let record = try XCTUnwrap(try registry.activityToken(activityID: "activity-1", deviceID: "device-1"))
        XCTAssertEqual(record.createdAt, 100)
        XCTAssertEqual(record.updatedAt, 150, "the last registration time only moves forward")
        XCTAssertEqual(try registry.tokens(forActivity: "activity-1").count, 1)
    }

    func testChangedDetailsAreAnUpdate() throws {
        let registry = try self.openRegistry()
        XCTAssertEqual(try registry.register(.sample(stream: "a"), at: 1), .created)
        XCTAssertEqual(try registry.register(.sample(stream: "b"), at: 2), .updated)
        XCTAssertEqual(try registry.register(.sample(stream: "b", environment: .development), at: 3), .updated)
        XCTAssertEqual(try registry.register(.sample(stream: nil, environment: .development), at: 4), .updated)
        let record = try XCTUnwrap(try registry.activityToken(activityID: "activity-1", deviceID: "device-1"))
        XCTAssertNil(record.registration.streamID)
        XCTAssertEqual(record.registration.environment, .development)
        XCTAssertEqual(record.updatedAt, 4)
    }

    func testNewTokenReplacesTheOldOne() throws {
        let registry = try self.openRegistry()
        XCTAssertEqual(try registry.register(.sample(token: 1), at: 1), .created)
        XCTAssertEqual(try registry.register(.sample(token: 2), at: 2), .replaced(oldToken: token(1)))
        XCTAssertEqual(try registry.tokens(forActivity: "activity-1").map(\.token), [token(2)])
        XCTAssertEqual(try registry.unregister(token: token(1)), 0, "the old token is forgotten")
        // The old token is free again, e.g. for another device (APNs never reuses one, but nothing holds it).
        XCTAssertEqual(try registry.register(.sample(device: "device-2", token: 1), at: 3), .created)
        let record = try XCTUnwrap(try registry.activityToken(activityID: "activity-1", deviceID: "device-1"))
        XCTAssertEqual(record.createdAt, 1)
        XCTAssertEqual(record.updatedAt, 2)
    }

    func testTokenHeldElsewhereIsAConflict() throws {
        let registry = try self.openRegistry()
        XCTAssertEqual(try registry.register(.sample(token: 7), at: 1), .created)

        for other in [
            ActivityTokenRegistration.sample(activity: "activity-2", token: 7),
            .sample(device: "device-2", token: 7),
            .sample(token: 7, app: "com.example.other"),
        ] {
            let error = assertThrows { () throws(LiveActivityRegistryError) in try registry.register(other, at: 2) }
            guard case .tokenConflict(let shown, let registeredTo)? = error else {
                XCTFail("\(String(describing: error))")
                continue
            }
            XCTAssertEqual(shown, "\"00000000…\"", "never the whole token")
            XCTAssertEqual(registeredTo, "activity \"activity-1\" on device \"device-1\" for app \"com.example.app\"")
            XCTAssertFalse(error!.description.contains(token(7)))
            XCTAssertTrue(error!.description.hasPrefix("token \"00000000…\" is already registered to activity"))
        }
        XCTAssertEqual(try registry.tokens(forActivity: "activity-1").map(\.token), [token(7)], "nothing changed")
        XCTAssertEqual(try registry.tokens(forActivity: "activity-2"), [])
    }

    func testActivityOfAnotherAppIsRefused() throws {
        let registry = try self.openRegistry()
        XCTAssertEqual(try registry.register(.sample(token: 1), at: 1), .created)
        assertThrows(
            LiveActivityRegistryError.appMismatch(
                key: "activity \"activity-1\" on device \"device-1\"", registeredApp: "com.example.app",
                requestedApp: "com.example.other")
        ) { () throws(LiveActivityRegistryError) in
            try registry.register(.sample(token: 2, app: "com.example.other"), at: 2)
        }
    }

    func testUnregisterAllDevicesOfAnActivityAndByToken() throws {
        let registry = try self.openRegistry()
        for device in 1...3 {
            XCTAssertEqual(try registry.register(.sample(device: "device-\(device)", token: device), at: 1), .created)
        }
        XCTAssertEqual(try registry.register(.sample(activity: "activity-2", token: 9), at: 1), .created)
        XCTAssertEqual(try registry.tokens(forActivity: "activity-1").map(\.deviceID), ["device-1", "device-2", "device-3"])

        XCTAssertEqual(try registry.unregister(token: token(2).uppercased()), 1)
        XCTAssertEqual(try registry.tokens(forActivity: "activity-1").map(\.deviceID), ["device-1", "device-3"])
        XCTAssertEqual(try registry.unregister(activityID: "activity-1", deviceID: nil), 2)
        XCTAssertEqual(try registry.tokens(forActivity: "activity-1"), [])
        XCTAssertEqual(try registry.tokens(forActivity: "activity-2").count, 1, "other activities untouched")
    }

    func testTokensForStream() throws {
        let registry = try self.openRegistry()
        XCTAssertEqual(try registry.register(.sample(activity: "b", device: "d2", token: 1, stream: "match"), at: 1), .created)
        XCTAssertEqual(try registry.register(.sample(activity: "a", device: "d9", token: 2, stream: "match"), at: 1), .created)
        XCTAssertEqual(try registry.register(.sample(activity: "b", device: "d1", token: 3, stream: "match"), at: 1), .created)
        XCTAssertEqual(try registry.register(.sample(activity: "c", device: "d1", token: 4, stream: "other"), at: 1), .created)
        XCTAssertEqual(try registry.register(.sample(activity: "d", device: "d1", token: 5), at: 1), .created)
        let records = try registry.tokens(forStream: "match")
        XCTAssertEqual(records.map { "\($0.activityID)/\($0.deviceID)" }, ["a/d9", "b/d1", "b/d2"])
        XCTAssertEqual(try registry.tokens(forStream: "none"), [])
    }

    func testRegistrationsSurviveARestart() throws {
        do {
            let registry = try self.openRegistry()
            XCTAssertEqual(try registry.register(.sample(token: 1, stream: "s"), at: 10), .created)
            XCTAssertEqual(try registry.register(.sample(device: "device-2", token: 2), at: 11), .created)
            XCTAssertEqual(try registry.register(.sample(device: "device-2", token: 3), at: 12), .replaced(oldToken: token(2)))
            XCTAssertEqual(try registry.markDead(token: token(1), at: 20, reason: "Unregistered"), 1)
            registry.close()
            assertThrows(LiveActivityRegistryError.closed) { () throws(LiveActivityRegistryError) in
                try registry.tokens(forActivity: "activity-1")
            }
        }
        let reopened = try self.openRegistry()
        XCTAssertEqual(try reopened.tokens(forActivity: "activity-1").map(\.token), [token(3)])
        let dead = try XCTUnwrap(try reopened.activityToken(activityID: "activity-1", deviceID: "device-1"))
        XCTAssertEqual(dead.deadAt, 20)
        XCTAssertEqual(dead.deadReason, "Unregistered")
        XCTAssertEqual(dead.registration.streamID, "s")
        XCTAssertEqual(try reopened.register(.sample(device: "device-2", token: 3), at: 30), .unchanged)
    }

    func testTwoRegistriesOnOneFileSeeEachOther() throws {
        let first = try self.openRegistry()
        let second = try self.openRegistry()
        XCTAssertEqual(try first.register(.sample(token: 1), at: 1), .created)
        XCTAssertEqual(try second.tokens(forActivity: "activity-1").map(\.token), [token(1)])
        assertThrows { () throws(LiveActivityRegistryError) in
            try second.register(.sample(device: "device-2", token: 1), at: 2)
        }
    }

    // MARK: Bad input

    func testBadInputIsRefusedClearly() throws {
        let registry = try self.openRegistry()
        let cases: [(ActivityTokenRegistration, String)] = [
            (.sample(activity: ""), "activityID is empty"),
            (.sample(device: ""), "deviceID is empty"),
            (.sample(app: ""), "app is empty"),
            (.sample(stream: ""), "streamID is empty"),
            (.sample(activity: "a\nb"), "activityID has a control character at offset 1"),
            (.sample(device: String(repeating: "d", count: 257)), "deviceID is 257 bytes; at most 256 are allowed"),
        ]
        for (registration, message) in cases {
            let error = assertThrows { () throws(LiveActivityRegistryError) in try registry.register(registration, at: 1) }
            XCTAssertEqual(error?.description, message)
        }

        for (bad, message) in [
            ("", "token: device token is empty"),
            ("xyz0", "token: device token \"xyz0\" has a non-hex character at offset 0"),
            ("abc", "token: device token \"abc\" has an odd number of hex digits (3)"),
        ] {
            var registration = ActivityTokenRegistration.sample()
            registration.token = bad
            let error = assertThrows { () throws(LiveActivityRegistryError) in try registry.register(registration, at: 1) }
            XCTAssertEqual(error, .badToken(message))
            XCTAssertEqual(error?.description, message)
        }

        assertThrows(LiveActivityRegistryError.badTime(field: "registration time", value: -1)) {
            () throws(LiveActivityRegistryError) in try registry.register(.sample(), at: -1)
        }
        assertThrows(LiveActivityRegistryError.badIdentifier(field: "activityID", problem: "is empty")) {
            () throws(LiveActivityRegistryError) in try registry.tokens(forActivity: "")
        }
        assertThrows(LiveActivityRegistryError.badIdentifier(field: "deviceID", problem: "is empty")) {
            () throws(LiveActivityRegistryError) in try registry.unregister(activityID: "a", deviceID: "")
        }
        let tokenError = assertThrows { () throws(LiveActivityRegistryError) in try registry.unregister(token: "not hex") }
        XCTAssertEqual(tokenError?.description, "token: device token \"not hex\" has a non-hex character at offset 0")
        XCTAssertEqual(try registry.tokens(forActivity: "activity-1"), [], "nothing was stored")
    }
}
