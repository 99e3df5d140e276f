import APNsCore
import NIOCore
import XCTest

final class ValidationTests: XCTestCase {
    func testValidNotificationsPass() throws {
        for type in APNsPushType.allCases {
            var notification = validNotification(pushType: type)
            notification.priority = type == .background ? .conserve : .immediate
            notification.expiration = 0
            notification.collapseID = "game-42"
            notification.apnsID = "123e4567-e89b-12d3-a456-4266554400a0"
            XCTAssertNoThrow(try notification.validate(), "\(type)")
        }
    }

    // MARK: device token

    func testDeviceTokenAccepted() {
        for token in [sampleToken, sampleToken.uppercased(), "ab", String(repeating: "a1", count: 80),
                      String(repeating: "0", count: APNsNotification.maxDeviceTokenLength)] {
            var notification = validNotification()
            notification.deviceToken = token
            XCTAssertNoThrow(try notification.validate(), "\(token.count)")
        }
    }

    func testDeviceTokenRejected() {
        let bad = [
            "", "a", String(sampleToken.dropLast()), sampleToken + "g", "zz" + sampleToken, sampleToken + " ",
            " " + sampleToken, "0x" + sampleToken, String(sampleToken.prefix(20)) + "-" + String(sampleToken.dropFirst(21)),
            String(repeating: "00", count: APNsNotification.maxDeviceTokenLength / 2 + 1), "é" + sampleToken,
        ]
        for token in bad {
            var notification = validNotification()
            notification.deviceToken = token
            let error = assertValidationError(.badDeviceToken) { () throws(APNsValidationError) in
                try notification.validate()
            }
            XCTAssertEqual(error?.field, "token")
            XCTAssertEqual(error?.reason, "BadDeviceToken")
        }
    }

    func testMessagesNeverShowTheWholeToken() {
        let hex = "deadbeef" + String(repeating: "cafebabe", count: 7)  // 64 hex digits
        let tokens = [
            hex + "g",  // non-hex
            hex + "0",  // odd length
            hex + String(repeating: "ab", count: 600),  // too long
        ]
        for token in tokens {
            var notification = validNotification()
            notification.deviceToken = token
            let error = assertValidationError(.badDeviceToken) { () throws(APNsValidationError) in
                try notification.validate()
            }
            guard let error else { continue }
            XCTAssertFalse(error.message.contains("deadbeefc"), error.message)
            XCTAssertFalse(error.description.contains("deadbeefc"), error.description)
            XCTAssertTrue(error.message.contains("deadbeef"), error.message)
        }
    }

    func testOddLengthMessage() {
        var notification = validNotification()
        notification.deviceToken = "abc"
        let error = assertValidationError(.badDeviceToken) { () throws(APNsValidationError) in
            try notification.validate()
        }
        XCTAssertTrue(error?.message.contains("odd") ?? false)
    }

    // MARK: payload

    func testPayloadEmpty() {
        var notification = validNotification()
        notification.payload = ByteBuffer()
        let error = assertValidationError(.payloadEmpty) { () throws(APNsValidationError) in try notification.validate() }
        XCTAssertEqual(error?.field, "payload")
    }

    func testPayloadNotJSON() {
        for payload in ["not json", "[]", "{", #"{"aps":{}} trailing"#, #"{"aps":"\q"}"#, " ", "null"] {
            let notification = validNotification(payload: payload)
            let error = assertValidationError(.payloadNotJSON) { () throws(APNsValidationError) in
                try notification.validate()
            }
            XCTAssertTrue(error?.message.contains("at byte") ?? false, error?.message ?? "")
        }
    }

    func testPayloadSizeLimits() {
        func payload(size: Int) -> String {
            let overhead = #"{"a":""}"#.utf8.count
            return #"{"a":""# + String(repeating: "x", count: size - overhead) + #""}"#
        }
        XCTAssertNoThrow(try validNotification(payload: payload(size: 4096)).validate())
        let error = assertValidationError(.payloadTooLarge) { () throws(APNsValidationError) in
            try validNotification(payload: payload(size: 4097)).validate()
        }
        XCTAssertTrue(error?.message.contains("4097") ?? false)
        XCTAssertTrue(error?.message.contains("4096") ?? false)
        XCTAssertNoThrow(try validNotification(pushType: .voip, payload: payload(size: 5120)).validate())
        assertValidationError(.payloadTooLarge) { () throws(APNsValidationError) in
            try validNotification(pushType: .voip, payload: payload(size: 5121)).validate()
        }
        assertValidationError(.payloadTooLarge) { () throws(APNsValidationError) in
            try validNotification(pushType: .liveactivity, payload: payload(size: 4097)).validate()
        }
    }

    // MARK: priority

    func testPriorityRules() {
        for type in APNsPushType.allCases {
            for priority in [APNsPriority.immediate, .conserve, .low] {
                var notification = validNotification(pushType: type)
                notification.priority = priority
                let forbidden = (type == .background && priority == .immediate) || (type == .liveactivity && priority == .low)
                if forbidden {
                    assertValidationError(.badPriority) { () throws(APNsValidationError) in try notification.validate() }
                } else {
                    XCTAssertNoThrow(try notification.validate(), "\(type) \(priority)")
                }
            }
        }
    }

    // MARK: collapse id

    func testCollapseID() {
        var notification = validNotification()
        for accepted in ["a", String(repeating: "x", count: 64), String(repeating: "é", count: 32), "with inner space"] {
            notification.collapseID = accepted
            XCTAssertNoThrow(try notification.validate(), accepted)
        }
        for rejected in ["", String(repeating: "x", count: 65), String(repeating: "é", count: 32) + "x", "line\nbreak",
                         "cr\rlf", "nul\0", " leading", "trailing "] {
            notification.collapseID = rejected
            let error = assertValidationError(.badCollapseId) { () throws(APNsValidationError) in
                try notification.validate()
            }
            XCTAssertEqual(error?.field, "collapseId")
        }
    }

    // MARK: apns-id

    func testAPNsID() {
        var notification = validNotification()
        for accepted in ["123e4567-e89b-12d3-a456-4266554400a0", "123E4567-E89B-12D3-A456-4266554400A0",
                         "00000000-0000-0000-0000-000000000000"] {
            notification.apnsID = accepted
            XCTAssertNoThrow(try notification.validate(), accepted)
        }
        for rejected in ["", "123e4567e89b12d3a4564266554400a0", "{123e4567-e89b-12d3-a456-4266554400a0}",
                         "123e4567-e89b-12d3-a456-4266554400a", "123e4567-e89b-12d3-a456-4266554400a00",
                         "123e4567-e89b-12d3-a456_4266554400a0", "123e4567-e89b-12d3-a456-4266554400ag",
                         "123e456-7e89b-12d3-a456-4266554400a0", "not-a-uuid"] {
            notification.apnsID = rejected
            let error = assertValidationError(.badMessageId) { () throws(APNsValidationError) in
                try notification.validate()
            }
            XCTAssertEqual(error?.field, "apnsId")
        }
    }

    // MARK: topic

    func testTopicMustCarryTheSuffix() {
        for type in APNsPushType.allCases where !type.topicSuffix.isEmpty {
            var notification = validNotification(pushType: type)
            XCTAssertNoThrow(try notification.validate(), "\(type)")
            for topic in ["com.example.app", type.topicSuffix, "com.example.app" + type.topicSuffix + ".x",
                          "com.example.app" + type.topicSuffix.uppercased()] {
                notification.topic = topic
                let error = assertValidationError(.badTopic) { () throws(APNsValidationError) in
                    try notification.validate()
                }
                XCTAssertEqual(error?.field, "topic")
            }
        }
    }

    func testUnsuffixedTypesRejectOtherSuffixes() {
        for type in [APNsPushType.alert, .background, .mdm] {
            var notification = validNotification(pushType: type)
            XCTAssertNoThrow(try notification.validate())
            for other in APNsPushType.allCases where !other.topicSuffix.isEmpty {
                notification.topic = "com.example.app" + other.topicSuffix
                let error = assertValidationError(.badTopic) { () throws(APNsValidationError) in
                    try notification.validate()
                }
                XCTAssertTrue(error?.message.contains(other.rawValue) ?? false, error?.message ?? "")
            }
            // Near misses are fine.
            for topic in ["com.example.voipapp", "com.example.app.voip2", "com.example.complications"] {
                notification.topic = topic
                XCTAssertNoThrow(try notification.validate(), topic)
            }
        }
    }

    func testTopicVoipVersusPushToTalk() {
        var notification = validNotification(pushType: .voip)
        notification.topic = "com.example.app.voip-ptt"
        assertValidationError(.badTopic) { () throws(APNsValidationError) in try notification.validate() }
        notification = validNotification(pushType: .pushtotalk)
        notification.topic = "com.example.app.voip"
        assertValidationError(.badTopic) { () throws(APNsValidationError) in try notification.validate() }
    }

    func testTopicCharacters() {
        var notification = validNotification()
        for topic in ["", "com.example app", "com.example.app\r\nx-evil: 1", "com.exämple.app", "\tcom.example.app"] {
            notification.topic = topic
            assertValidationError(.badTopic) { () throws(APNsValidationError) in try notification.validate() }
        }
    }

    // MARK: expiration

    func testExpiration() {
        var notification = validNotification()
        for accepted: Int64 in [0, 1, 1_900_000_000, .max] {
            notification.expiration = accepted
            XCTAssertNoThrow(try notification.validate())
        }
        for rejected: Int64 in [-1, .min] {
            notification.expiration = rejected
            let error = assertValidationError(.badExpiration) { () throws(APNsValidationError) in
                try notification.validate()
            }
            XCTAssertEqual(error?.field, "expiration")
        }
    }

    // MARK: the error type

    func testErrorEqualityIgnoresMessage() {
        var notification = validNotification()
        notification.deviceToken = "abc"
        do {
            try notification.validate()
            XCTFail("accepted")
        } catch {
            XCTAssertEqual(error, .badDeviceToken)
            XCTAssertNotEqual(error, .badTopic)
            XCTAssertEqual(Set([error, .badDeviceToken]).count, 1)
            switch error {
            case .badDeviceToken: break
            default: XCTFail("pattern did not match")
            }
            XCTAssertTrue(error.description.hasPrefix("BadDeviceToken (token): "), error.description)
        }
    }

    func testFirstFailureWins() {
        var notification = validNotification(payload: "")
        notification.deviceToken = ""
        notification.topic = ""
        assertValidationError(.badDeviceToken) { () throws(APNsValidationError) in try notification.validate() }
        notification.deviceToken = sampleToken
        assertValidationError(.badTopic) { () throws(APNsValidationError) in try notification.validate() }
    }
}
