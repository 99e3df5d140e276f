import APNsCore
import NIOCore
import XCTest

final class ResponseTests: XCTestCase {
    /// Every documented reason with its status, as in the reference's table.
    static let documented: [(String, Int)] = [
        ("BadCollapseId", 400), ("BadDeviceToken", 400), ("BadExpirationDate", 400), ("BadMessageId", 400),
        ("BadPriority", 400), ("BadTopic", 400), ("DeviceTokenNotForTopic", 400), ("DuplicateHeaders", 400),
        ("IdleTimeout", 400), ("InvalidPushType", 400), ("MissingDeviceToken", 400), ("MissingTopic", 400),
        ("PayloadEmpty", 400), ("TopicDisallowed", 400),
        ("BadCertificate", 403), ("BadCertificateEnvironment", 403), ("ExpiredProviderToken", 403),
        ("Forbidden", 403), ("InvalidProviderToken", 403), ("MissingProviderToken", 403),
        ("UnrelatedKeyIdInToken", 403), ("BadEnvironmentKeyIdInToken", 403), ("BadEnvironmentKeyInToken", 403),
        ("BadPath", 404), ("MethodNotAllowed", 405), ("ExpiredToken", 410), ("Unregistered", 410),
        ("PayloadTooLarge", 413), ("TooManyProviderTokenUpdates", 429), ("TooManyRequests", 429),
        ("InternalServerError", 500), ("ServiceUnavailable", 503), ("Shutdown", 503),
        ("FeatureNotEnabled", 400), ("MissingChannelId", 400), ("BadChannelId", 400), ("ChannelNotRegistered", 400),
        ("BadRequestParams", 400), ("BadRequestPayload", 400), ("MissingPushType", 400),
        ("CannotCreateChannelConfig", 400), ("TopicMismatch", 403),
    ]

    func testEveryDocumentedReasonParses() {
        XCTAssertEqual(APNsReason.documented.count, Self.documented.count)
        var seen = Set<APNsReason>()
        for (raw, status) in Self.documented {
            let response = APNsResponse.parse(
                status: status, apnsID: "id", apnsUniqueID: nil, body: buffer(#"{"reason":"\#(raw)"}"#))
            guard let reason = response.reason else {
                XCTFail("\(raw): no reason")
                continue
            }
            if case .unknown = reason {
                XCTFail("\(raw) parsed as unknown")
            }
            XCTAssertEqual(reason.rawValue, raw)
            XCTAssertEqual(reason.description, raw)
            XCTAssertEqual(reason.documentedStatus, status, raw)
            XCTAssertEqual(APNsReason(rawValue: raw), reason)
            XCTAssertEqual(response.status, status)
            XCTAssertEqual(response.apnsID, "id")
            XCTAssertFalse(response.isSuccess)
            seen.insert(reason)
        }
        XCTAssertEqual(seen.count, Self.documented.count, "two strings mapped to one case")
        XCTAssertEqual(Set(APNsReason.documented), seen)
    }

    func testBothKeyEnvironmentSpellings() {
        XCTAssertEqual(APNsReason(rawValue: "BadEnvironmentKeyIdInToken"), .badEnvironmentKeyIdInToken)
        XCTAssertEqual(APNsReason(rawValue: "BadEnvironmentKeyInToken"), .badEnvironmentKeyInToken)
    }

    func testUnknownReasonsKeptVerbatim() {
        for raw in ["SomethingNew", "baddevicetoken", "BadDeviceToken ", "", "featureNotEnabled"] {
            XCTAssertEqual(APNsReason(rawValue: raw), .unknown(raw))
            XCTAssertEqual(APNsReason(rawValue: raw).rawValue, raw)
            XCTAssertNil(APNsReason(rawValue: raw).documentedStatus)
        }
        let response = APNsResponse.parse(
            status: 400, apnsID: nil, apnsUniqueID: nil, body: buffer(#"{"reason":"BrandNewReason"}"#))
        XCTAssertEqual(response.reason, .unknown("BrandNewReason"))
    }

    func testSuccess() {
        let response = APNsResponse.parse(status: 200, apnsID: "a", apnsUniqueID: "u", body: nil)
        XCTAssertEqual(response, APNsResponse(status: 200, reason: nil, apnsID: "a", apnsUniqueID: "u", timestamp: nil))
        XCTAssertTrue(response.isSuccess)
        // A 200 body is ignored.
        let withBody = APNsResponse.parse(status: 200, apnsID: nil, apnsUniqueID: nil, body: buffer(#"{"reason":"X"}"#))
        XCTAssertNil(withBody.reason)
    }

    func testGoneWithTimestamp() {
        let response = APNsResponse.parse(
            status: 410, apnsID: "x", apnsUniqueID: nil,
            body: buffer(#"{"reason":"Unregistered","timestamp":1700000000123}"#))
        XCTAssertEqual(response.reason, .unregistered)
        XCTAssertEqual(response.timestamp, 1_700_000_000_123)

        let reordered = APNsResponse.parse(
            status: 410, apnsID: nil, apnsUniqueID: nil,
            body: buffer(" {\n \"timestamp\" : 1700000000999 ,\t\"reason\" : \"ExpiredToken\" } \n"))
        XCTAssertEqual(reordered.reason, .expiredToken)
        XCTAssertEqual(reordered.timestamp, 1_700_000_000_999)
    }

    func testTimestampVariants() {
        func timestamp(_ json: String) -> Int64? {
            APNsResponse.parse(status: 410, apnsID: nil, apnsUniqueID: nil, body: buffer(json)).timestamp
        }
        XCTAssertEqual(timestamp(#"{"reason":"Unregistered","timestamp":"1700000000123"}"#), 1_700_000_000_123)
        XCTAssertEqual(timestamp(#"{"reason":"Unregistered","timestamp":1.7e12}"#), 1_700_000_000_000)
        XCTAssertNil(timestamp(#"{"reason":"Unregistered","timestamp":99999999999999999999999}"#))
        XCTAssertNil(timestamp(#"{"reason":"Unregistered","timestamp":null}"#))
        XCTAssertNil(timestamp(#"{"reason":"Unregistered"}"#))
    }

    func testUnknownKeysAndEscapes() {
        let response = APNsResponse.parse(
            status: 400, apnsID: nil, apnsUniqueID: nil,
            body: buffer(#"{"extra":{"nested":[1,{"reason":"Nope"}]},"reason":"Bad\u0044eviceToken","more":true}"#))
        XCTAssertEqual(response.reason, .badDeviceToken)
        let unknown = APNsResponse.parse(
            status: 400, apnsID: nil, apnsUniqueID: nil, body: buffer(#"{"reason":"caf\u00e9 \ud83d\ude00 \"q\" \n"}"#))
        XCTAssertEqual(unknown.reason, .unknown("café 😀 \"q\" \n"))
    }

    func testMissingOrEmptyBody() {
        for body in [nil, ByteBuffer(), buffer("   \n"), buffer("{}"), buffer(#"{"other":1}"#)] as [ByteBuffer?] {
            let response = APNsResponse.parse(status: 500, apnsID: nil, apnsUniqueID: nil, body: body)
            XCTAssertNil(response.reason)
            XCTAssertNil(response.timestamp)
            XCTAssertEqual(response.status, 500)
        }
    }

    func testMalformedBodies() {
        func reason(_ text: String) -> APNsReason? {
            APNsResponse.parse(status: 400, apnsID: nil, apnsUniqueID: nil, body: buffer(text)).reason
        }
        XCTAssertEqual(reason("<html>oops</html>"), .unknown("<html>oops</html>"))
        XCTAssertEqual(reason(#"{"reason":"#), .unknown(#"{"reason":"#))
        XCTAssertEqual(reason(#"{"reason":42}"#), .unknown(#"{"reason":42}"#))
        XCTAssertEqual(reason("[1,2]"), .unknown("[1,2]"))
        XCTAssertEqual(reason("  Shutdown \n"), .shutdown)  // a bare reason still maps
        // A reason read before the body breaks is kept.
        XCTAssertEqual(reason(#"{"reason":"BadTopic","#), .badTopic)
        XCTAssertEqual(reason(#"{"reason":"BadTopic"} trailing"#), .badTopic)
        // Long garbage is cut.
        let long = String(repeating: "z", count: 5000)
        XCTAssertEqual(reason(long), .unknown(String(repeating: "z", count: APNsErrorBody.maxUnknownTextLength)))
        // Invalid UTF-8 does not crash and is repaired.
        let invalid = APNsResponse.parse(status: 400, apnsID: nil, apnsUniqueID: nil, body: buffer([0xFF, 0xFE, 0x41]))
        XCTAssertEqual(invalid.reason, .unknown("\u{FFFD}\u{FFFD}A"))
    }

    func testErrorBodyEntryPoint() {
        // The same JSON arrives as GOAWAY debug data.
        let body = APNsErrorBody(parsing: buffer(#"{"reason":"Shutdown"}"#))
        XCTAssertEqual(body, APNsErrorBody(reason: .shutdown, timestamp: nil))
    }
}
