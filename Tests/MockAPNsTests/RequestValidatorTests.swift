import Crypto
import Foundation
import NIOCore
import NIOHPACK
import XCTest

@testable import MockAPNs

/// The validation rules, checked directly without a network.
final class RequestValidatorTests: XCTestCase {
    private var validator: RequestValidator!
    private var jwt = ""
    private let now = Int64(Date().timeIntervalSince1970)

    override func setUpWithError() throws {
        var configuration = try TestCredentials.configuration()
        configuration.unregisteredTokens = ["AABB": 42]
        let verifier = try ProviderTokenVerifier(keys: configuration.providerKeys)
        self.validator = RequestValidator(configuration: configuration, verifier: verifier)
        self.jwt = try TestJWT.make(key: TestCredentials.signingKey(), issuedAt: self.now)
    }

    private func verdict(
        method: String = "POST",
        path: String = "/3/device/\(TestCredentials.deviceToken)",
        headers extra: [(String, String)] = [],
        omit: Set<String> = [],
        body: String? = #"{"aps":{}}"#
    ) -> MockVerdict {
        var headers = HPACKHeaders([(":method", method), (":path", path), (":scheme", "https")])
        let defaults = [("authorization", "bearer \(self.jwt)"), ("apns-topic", TestCredentials.bundleID)]
        for (name, value) in defaults where !omit.contains(name) && !extra.contains(where: { $0.0 == name }) {
            headers.add(name: name, value: value)
        }
        for (name, value) in extra {
            headers.add(name: name, value: value)
        }
        let buffer = body.map { ByteBuffer(string: $0) }
        var tokens = ConnectionTokenCache()
        return self.validator.verdict(
            head: RequestHead(headers: headers),
            body: buffer,
            bodyLength: buffer?.readableBytes ?? 0,
            now: self.now,
            tokens: &tokens
        )
    }

    func testValidRequest() {
        XCTAssertEqual(self.verdict(), .success)
    }

    func testMethodPathAndToken() {
        XCTAssertEqual(self.verdict(method: "GET").reason, "MethodNotAllowed")
        XCTAssertEqual(self.verdict(method: "GET").status, 405)
        XCTAssertEqual(self.verdict(path: "/3/other/abcd"), .error(404, "BadPath"))
        XCTAssertEqual(self.verdict(path: "/3/device/"), .error(400, "MissingDeviceToken"))
        XCTAssertEqual(self.verdict(path: "/3/device/abc"), .error(400, "BadDeviceToken"), "odd length")
        XCTAssertEqual(self.verdict(path: "/3/device/zz"), .error(400, "BadDeviceToken"))
        XCTAssertEqual(self.verdict(path: "/3/device/ABCDEF0123"), .success, "any case, any even length")
    }

    func testApnsID() {
        XCTAssertEqual(self.verdict(headers: [("apns-id", "123E4567-E89B-12D3-A456-426614174000")]), .success)
        XCTAssertEqual(self.verdict(headers: [("apns-id", "123e4567e89b12d3a456426614174000")]), .error(400, "BadMessageId"))
        XCTAssertEqual(self.verdict(headers: [("apns-id", "123e4567-e89b-12d3-a456-42661417400g")]), .error(400, "BadMessageId"))
    }

    func testDuplicateHeaders() {
        XCTAssertEqual(
            self.verdict(headers: [("apns-priority", "10"), ("apns-priority", "5")]),
            .error(400, "DuplicateHeaders")
        )
        XCTAssertEqual(
            self.verdict(headers: [("apns-custom", "1"), ("apns-custom", "2")]),
            .error(400, "DuplicateHeaders")
        )
    }

    func testProviderToken() throws {
        XCTAssertEqual(self.verdict(omit: ["authorization"]), .error(403, "MissingProviderToken"))
        XCTAssertEqual(self.verdict(headers: [("authorization", "basic abc")]), .error(403, "MissingProviderToken"))
        XCTAssertEqual(self.verdict(headers: [("authorization", "Bearer \(self.jwt)")]), .success)
        XCTAssertEqual(self.verdict(headers: [("authorization", "bearer x.y.z")]), .error(403, "InvalidProviderToken"))
        let key = try TestCredentials.signingKey()
        let expired = try TestJWT.make(key: key, issuedAt: self.now - 3601)
        XCTAssertEqual(self.verdict(headers: [("authorization", "bearer \(expired)")]), .error(403, "ExpiredProviderToken"))
        let oldButValid = try TestJWT.make(key: key, issuedAt: self.now - 3500)
        XCTAssertEqual(self.verdict(headers: [("authorization", "bearer \(oldButValid)")]), .success)
        let future = try TestJWT.make(key: key, issuedAt: self.now + 3600)
        XCTAssertEqual(self.verdict(headers: [("authorization", "bearer \(future)")]), .error(403, "InvalidProviderToken"))
    }

    func testPushTypeAndTopic() {
        XCTAssertEqual(self.verdict(headers: [("apns-push-type", "fax")]), .error(400, "InvalidPushType"))
        XCTAssertEqual(self.verdict(omit: ["apns-topic"]), .error(400, "MissingTopic"))
        XCTAssertEqual(self.verdict(headers: [("apns-topic", "com.example.other")]), .error(400, "TopicDisallowed"))
        XCTAssertEqual(self.verdict(headers: [("apns-push-type", "voip")]), .error(400, "BadTopic"))
        XCTAssertEqual(
            self.verdict(headers: [("apns-push-type", "alert"), ("apns-topic", "com.example.app.voip")]),
            .error(400, "BadTopic")
        )
        let suffixes = [
            "liveactivity": ".push-type.liveactivity", "voip": ".voip", "complication": ".complication",
            "fileprovider": ".pushkit.fileprovider", "location": ".location-query", "pushtotalk": ".voip-ptt",
            "widgets": ".push-type.widgets", "controls": ".push-type.controls", "alert": "", "background": "",
        ]
        for (type, suffix) in suffixes {
            let headers = [("apns-push-type", type), ("apns-topic", TestCredentials.bundleID + suffix)]
            XCTAssertEqual(self.verdict(headers: headers), .success, type)
        }
    }

    func testPriorityExpirationAndCollapseID() {
        XCTAssertEqual(self.verdict(headers: [("apns-priority", "1")]), .success)
        XCTAssertEqual(self.verdict(headers: [("apns-priority", "7")]), .error(400, "BadPriority"))
        XCTAssertEqual(
            self.verdict(headers: [("apns-push-type", "background"), ("apns-priority", "10")]),
            .error(400, "BadPriority")
        )
        XCTAssertEqual(self.verdict(headers: [("apns-push-type", "background"), ("apns-priority", "5")]), .success)
        XCTAssertEqual(self.verdict(headers: [("apns-expiration", "0")]), .success)
        XCTAssertEqual(self.verdict(headers: [("apns-expiration", "-1")]), .error(400, "BadExpirationDate"))
        XCTAssertEqual(self.verdict(headers: [("apns-expiration", "soon")]), .error(400, "BadExpirationDate"))
        XCTAssertEqual(self.verdict(headers: [("apns-collapse-id", String(repeating: "c", count: 64))]), .success)
        XCTAssertEqual(
            self.verdict(headers: [("apns-collapse-id", String(repeating: "c", count: 65))]),
            .error(400, "BadCollapseId")
        )
    }

    func testPayload() {
        XCTAssertEqual(self.verdict(body: nil), .error(400, "PayloadEmpty"))
        XCTAssertEqual(self.verdict(body: "[1,2]"), .error(400, "BadPayload"))
        XCTAssertEqual(self.verdict(body: #"{"aps":"#), .error(400, "BadPayload"))
        XCTAssertEqual(self.verdict(body: " { } "), .success)
    }

    /// Like APNs, a Live Activity end must carry the final content-state; other events, and other push types,
    /// are not judged on it.
    func testLiveActivityEndNeedsContentState() {
        let liveActivity = [
            ("apns-push-type", "liveactivity"), ("apns-topic", TestCredentials.bundleID + ".push-type.liveactivity"),
        ]
        let refused = [
            #"{"aps":{"timestamp":1,"event":"end"}}"#,
            #"{"aps":{"timestamp":1,"event":"end","dismissal-date":5}}"#,
            #"{"aps":{"event":"end","content-state":null}}"#,
            #" { "other" : [ {"event":"end"} , "}" ] , "aps" : { "alert" : { "body" : "x \" }" } , "event" : "end" } } "#,
            #"{"aps":{"content-state":{"a":1}},"aps":{"event":"end"}}"#,
        ]
        for body in refused {
            XCTAssertEqual(self.verdict(headers: liveActivity, body: body), .error(400, "BadPayload"), body)
            let byTopicOnly = [("apns-topic", TestCredentials.bundleID + ".push-type.liveactivity")]
            XCTAssertEqual(self.verdict(headers: byTopicOnly, body: body), .error(400, "BadPayload"), body)
        }
        let accepted = [
            #"{"aps":{"timestamp":1,"event":"end","content-state":{}}}"#,
            #"{"aps":{"content-state":{"s":[1,{"x":"}"}]},"event":"end","dismissal-date":5}}"#,
            #"{"aps":{"timestamp":1,"event":"update","content-state":{}}}"#,
            #"{"aps":{"timestamp":1,"event":"endless"}}"#,
            #"{"aps":{"timestamp":1,"event":"\u0065nd"}}"#,
            #"{"event":"end","aps":{}}"#,
            #"{"aps":{}}"#,
        ]
        for body in accepted {
            XCTAssertEqual(self.verdict(headers: liveActivity, body: body), .success, body)
        }
        XCTAssertEqual(self.verdict(body: #"{"aps":{"event":"end"}}"#), .success, "an alert push is not a Live Activity")
    }

    func testUnregisteredTokenComparedIgnoringCase() {
        XCTAssertEqual(self.verdict(path: "/3/device/aabb"), .error(410, "Unregistered", timestamp: 42))
        // Earlier failures win over Unregistered.
        XCTAssertEqual(self.verdict(path: "/3/device/aabb", body: nil), .error(400, "PayloadEmpty"))
    }

    func testCertificateModeIgnoresAuthorization() throws {
        var configuration = try TestCredentials.configuration()
        configuration.trustRootsForClientCertificates = TestCredentials.path("test-ca.pem")
        self.validator = RequestValidator(configuration: configuration, verifier: nil)
        XCTAssertEqual(self.verdict(omit: ["authorization"]), .success)
        XCTAssertEqual(self.verdict(headers: [("authorization", "bearer nonsense")]), .success)
    }
}
