import Foundation
import NIOCore
import NIOHPACK
import XCTest

@testable import MockAPNs

/// The broadcast and channel management rules of the mock, checked directly without a network (the client's
/// side, over TLS, is in LiveActivityServiceTests/BroadcastTests).
final class BroadcastValidatorTests: XCTestCase {
    private var validator: BroadcastValidator!
    private var jwt = ""
    private let now = Int64(Date().timeIntervalSince1970)
    private let bundle = TestCredentials.bundleID

    override func setUpWithError() throws {
        var configuration = try TestCredentials.configuration()
        configuration.bundleIDs.append("com.example.off")
        configuration.broadcastDisabledBundleIDs = ["com.example.off"]
        configuration.maxChannelsPerApp = 3
        let verifier = try ProviderTokenVerifier(keys: configuration.providerKeys)
        let context = MockServerContext(configuration: configuration, verifier: verifier)
        self.validator = context.broadcasts
        self.jwt = try TestJWT.make(key: TestCredentials.signingKey(), issuedAt: self.now)
    }

    private func verdict(
        method: String = "POST", path: String, headers extra: [(String, String)] = [], omit: Set<String> = [],
        body: String? = nil
    ) -> MockVerdict {
        var headers = HPACKHeaders([(":method", method), (":path", path), (":scheme", "https")])
        let defaults = [("authorization", "bearer \(self.jwt)"), ("apns-push-type", "liveactivity")]
        for (name, value) in defaults where !omit.contains(name) && !extra.contains(where: { $0.0 == name }) {
            headers.add(name: name, value: value)
        }
        for (name, value) in extra { headers.add(name: name, value: value) }
        let buffer = body.map { ByteBuffer(string: $0) }
        var tokens = ConnectionTokenCache()
        return self.validator.verdict(
            head: RequestHead(headers: headers), body: buffer, bodyLength: buffer?.readableBytes ?? 0, now: self.now,
            tokens: &tokens)
    }

    private func create(policy: String = "1", bundle: String? = nil) -> MockVerdict {
        verdict(
            path: "/1/apps/\(bundle ?? self.bundle)/channels",
            body: #"{"message-storage-policy":\#(policy),"push-type":"LiveActivity"}"#)
    }

    private var update: String { #"{"aps":{"timestamp":1,"event":"update","content-state":{}}}"# }

    private func broadcast(_ channel: String?, headers: [(String, String)] = [], omit: Set<String> = [], body: String? = nil)
        -> MockVerdict
    {
        var all = headers
        if let channel { all.append(("apns-channel-id", channel)) }
        return verdict(path: "/4/broadcasts/apps/\(bundle)", headers: all, omit: omit, body: body ?? update)
    }

    func testChannelLifecycle() throws {
        let created = create()
        XCTAssertEqual(created.status, 201)
        XCTAssertEqual(created.idHeader, "apns-request-id")
        let id = try XCTUnwrap(created.channelID)
        XCTAssertNotNil(Data(base64Encoded: id))
        let read = verdict(method: "GET", path: "/1/apps/\(bundle)/channels", headers: [("apns-channel-id", id)])
        XCTAssertEqual(read.status, 200)
        XCTAssertEqual(read.body, #"{"message-storage-policy":1,"push-type":"LiveActivity"}"#)
        XCTAssertEqual(verdict(method: "GET", path: "/1/apps/\(bundle)/all-channels").body, #"{"channels":["\#(id)"]}"#)
        XCTAssertEqual(broadcast(id).status, 200)
        XCTAssertEqual(verdict(method: "DELETE", path: "/1/apps/\(bundle)/channels", headers: [("apns-channel-id", id)]).status, 204)
        XCTAssertEqual(broadcast(id), .error(400, "ChannelNotRegistered").with(idHeader: "apns-request-id"))
        XCTAssertEqual(verdict(method: "GET", path: "/1/apps/\(bundle)/all-channels").body, #"{"channels":[]}"#)
    }

    func testEveryBroadcastReason() throws {
        let id = try XCTUnwrap(create().channelID)
        let policyZero = try XCTUnwrap(create(policy: "0").channelID)
        let cases: [(MockVerdict, Int, String)] = [
            (create(bundle: "com.example.off"), 400, "FeatureNotEnabled"),
            (broadcast(nil), 400, "MissingChannelId"),
            (broadcast("not base64!"), 400, "BadChannelId"),
            (broadcast("AAAAAAAAAAAAAAAAAAAAAA=="), 400, "ChannelNotRegistered"),
            (create(policy: "2"), 400, "BadRequestParams"),
            (verdict(path: "/1/apps/\(bundle)/channels", body: "[1]"), 400, "BadRequestPayload"),
            (broadcast(id, body: "not json"), 400, "BadRequestPayload"),
            (broadcast(id, body: #"{"aps":{"event":"start"}}"#), 400, "BadRequestPayload"),
            (broadcast(id, omit: ["apns-push-type"]), 400, "MissingPushType"),
            (broadcast(id, headers: [("apns-push-type", "alert")]), 400, "InvalidPushType"),
            (verdict(path: "/4/broadcasts/apps/com.example.unknown", headers: [("apns-channel-id", id)], body: update), 403, "TopicMismatch"),
            (broadcast(policyZero, headers: [("apns-expiration", "1750000000")]), 400, "BadExpirationDate"),
            (broadcast(id, body: #"{"aps":{"event":"update"},"x":""# + String(repeating: "a", count: 5120) + #""}"#), 413, "PayloadTooLarge"),
            (broadcast(id, body: ""), 400, "PayloadEmpty"),
            (broadcast(id, headers: [("apns-priority", "7")]), 400, "BadPriority"),
            (broadcast(id, omit: ["authorization"]), 403, "MissingProviderToken"),
            (verdict(method: "GET", path: "/4/broadcasts/apps/\(bundle)"), 405, "MethodNotAllowed"),
            (verdict(path: "/1/apps/\(bundle)/other"), 404, "BadPath"),
        ]
        for (verdict, status, reason) in cases {
            XCTAssertEqual(verdict.reason, reason)
            XCTAssertEqual(verdict.status, status, reason)
        }
        XCTAssertEqual(broadcast(policyZero, headers: [("apns-expiration", "0")]).status, 200)
        XCTAssertEqual(create().status, 201, "the third channel")
        XCTAssertEqual(create().reason, "CannotCreateChannelConfig", "over the limit of 3")
    }

    func testPayloadAtTheLimitIsAccepted() throws {
        let id = try XCTUnwrap(create().channelID)
        let head = #"{"aps":{"event":"update"},"x":""#
        let body = head + String(repeating: "a", count: 5120 - head.utf8.count - 2) + #""}"#
        XCTAssertEqual(body.utf8.count, 5120)
        XCTAssertEqual(broadcast(id, body: body).status, 200)
    }
}

extension MockVerdict {
    fileprivate func with(idHeader: String) -> MockVerdict {
        var copy = self
        copy.idHeader = idHeader
        return copy
    }
}
