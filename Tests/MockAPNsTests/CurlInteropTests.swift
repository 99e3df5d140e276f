import Crypto
import Foundation
import MockAPNs
import XCTest

/// The mock against curl's HTTP/2 stack (nghttp2 + OpenSSL in curl), over TLS with ALPN.
final class CurlInteropTests: XCTestCase {
    func testValidPushIsAcceptedAndItsApnsIDEchoedLowercased() async throws {
        let server = try await self.startMock()
        let jwt = try TestJWT.valid()
        var push = CurlPush()
        push.headers += [
            ("authorization", "bearer \(jwt)"),
            ("apns-id", "123E4567-E89B-12D3-A456-426614174000"),
            ("apns-push-type", "alert"),
            ("apns-priority", "10"),
            ("apns-expiration", "0"),
            ("apns-collapse-id", "group-1"),
        ]

        let response = try push.send(to: server)

        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.headers["apns-id"], "123e4567-e89b-12d3-a456-426614174000")
        XCTAssertEqual(response.body, "")

        let received = server.received
        XCTAssertEqual(received.count, 1)
        let record = try XCTUnwrap(received.first)
        XCTAssertEqual(record.method, "POST")
        XCTAssertEqual(record.path, "/3/device/\(TestCredentials.deviceToken)")
        XCTAssertEqual(record.deviceToken, TestCredentials.deviceToken)
        XCTAssertEqual(record.headers["apns-topic"], TestCredentials.bundleID)
        XCTAssertEqual(record.headers["apns-push-type"], "alert")
        XCTAssertEqual(record.headers["apns-collapse-id"], "group-1")
        XCTAssertTrue(record.headers["authorization"] == "bearer \(jwt)", "the token is recorded as sent")
        XCTAssertNil(record.headers[":path"], "pseudo headers are not recorded")
        XCTAssertEqual(String(decoding: record.body, as: UTF8.self), #"{"aps":{"alert":"hello"}}"#)
        XCTAssertEqual(record.responseStatus, 200)
        XCTAssertNil(record.reason)
        XCTAssertEqual(record.apnsID, "123e4567-e89b-12d3-a456-426614174000")
        XCTAssertEqual(record.connectionID, 1)
        XCTAssertEqual(record.streamID, 1)

        let stats = server.stats
        XCTAssertEqual(stats.connectionsAccepted, 1)
        XCTAssertEqual(stats.streamsReceived, 1)
        XCTAssertEqual(stats.responsesByStatus, [200: 1])
        XCTAssertEqual(stats.maxConcurrentStreamsObserved, 1)
        XCTAssertEqual(stats.streamLimitViolations, 0)
    }

    func testApnsIDIsGeneratedWhenAbsent() async throws {
        let server = try await self.startMock()
        var push = CurlPush()
        push.headers.append(("authorization", "bearer \(try TestJWT.valid())"))

        let response = try push.send(to: server)

        XCTAssertEqual(response.status, 200)
        let apnsID = try XCTUnwrap(response.headers["apns-id"])
        XCTAssertNotNil(UUID(uuidString: apnsID), apnsID)
        XCTAssertEqual(apnsID, apnsID.lowercased())
        XCTAssertEqual(server.received.first?.apnsID, apnsID)
    }

    func testMalformedDeviceTokenIsBadDeviceToken() async throws {
        let server = try await self.startMock()
        var push = CurlPush()
        push.path = "/3/device/not-a-hex-token"
        push.headers.append(("authorization", "bearer \(try TestJWT.valid())"))

        let response = try push.send(to: server)

        XCTAssertEqual(response.status, 400)
        XCTAssertEqual(response.reason, "BadDeviceToken")
        XCTAssertNotNil(response.headers["apns-id"])
        XCTAssertEqual(server.received.first?.reason, "BadDeviceToken")
        XCTAssertEqual(server.received.first?.responseStatus, 400)
    }

    func testTopicOfAnotherAppIsDisallowedAndWrongSuffixIsBadTopic() async throws {
        let server = try await self.startMock()
        let jwt = try TestJWT.valid()

        var otherApp = CurlPush()
        otherApp.headers = [("apns-topic", "com.example.other"), ("authorization", "bearer \(jwt)")]
        let disallowed = try otherApp.send(to: server)
        XCTAssertEqual(disallowed.status, 400)
        XCTAssertEqual(disallowed.reason, "TopicDisallowed")

        var liveActivityWithoutSuffix = CurlPush()
        liveActivityWithoutSuffix.headers += [("apns-push-type", "liveactivity"), ("authorization", "bearer \(jwt)")]
        let badTopic = try liveActivityWithoutSuffix.send(to: server)
        XCTAssertEqual(badTopic.status, 400)
        XCTAssertEqual(badTopic.reason, "BadTopic")

        var liveActivity = CurlPush()
        liveActivity.headers = [
            ("apns-topic", TestCredentials.bundleID + ".push-type.liveactivity"),
            ("apns-push-type", "liveactivity"),
            ("apns-priority", "5"),
            ("authorization", "bearer \(jwt)"),
        ]
        liveActivity.body = #"{"aps":{"timestamp":1,"event":"update","content-state":{}}}"#
        XCTAssertEqual(try liveActivity.send(to: server).status, 200)
    }

    func testMissingAuthorizationIsMissingProviderToken() async throws {
        let server = try await self.startMock()

        let response = try CurlPush().send(to: server)

        XCTAssertEqual(response.status, 403)
        XCTAssertEqual(response.reason, "MissingProviderToken")
    }

    func testTokenOlderThanAnHourIsExpiredProviderToken() async throws {
        let server = try await self.startMock()
        let old = Int64(Date().timeIntervalSince1970) - 3700
        var push = CurlPush()
        push.headers.append(("authorization", "bearer \(try TestJWT.make(key: TestCredentials.signingKey(), issuedAt: old))"))

        let response = try push.send(to: server)

        XCTAssertEqual(response.status, 403)
        XCTAssertEqual(response.reason, "ExpiredProviderToken")
    }

    func testTokenSignedByAnotherKeyIsInvalidProviderToken() async throws {
        let server = try await self.startMock()
        var push = CurlPush()
        push.headers.append(("authorization", "bearer \(try TestJWT.make(key: P256.Signing.PrivateKey()))"))

        let response = try push.send(to: server)

        XCTAssertEqual(response.status, 403)
        XCTAssertEqual(response.reason, "InvalidProviderToken")
    }

    func testPayloadOverTheLimitIsTooLargeExceptForVoIP() async throws {
        let server = try await self.startMock()
        let jwt = try TestJWT.valid()
        func payload(size: Int) -> String {
            let prefix = #"{"aps":{},"pad":""#
            let suffix = #""}"#
            return prefix + String(repeating: "x", count: size - prefix.utf8.count - suffix.utf8.count) + suffix
        }

        var atLimit = CurlPush()
        atLimit.headers.append(("authorization", "bearer \(jwt)"))
        atLimit.body = payload(size: 4096)
        XCTAssertEqual(try atLimit.send(to: server).status, 200)

        var tooLarge = atLimit
        tooLarge.body = payload(size: 4097)
        let response = try tooLarge.send(to: server)
        XCTAssertEqual(response.status, 413)
        XCTAssertEqual(response.reason, "PayloadTooLarge")

        var voip = CurlPush()
        voip.headers = [
            ("apns-topic", TestCredentials.bundleID + ".voip"),
            ("apns-push-type", "voip"),
            ("authorization", "bearer \(jwt)"),
        ]
        voip.body = payload(size: 5120)
        XCTAssertEqual(try voip.send(to: server).status, 200)
        voip.body = payload(size: 5121)
        XCTAssertEqual(try voip.send(to: server).status, 413)

        var huge = atLimit
        huge.body = payload(size: 120_000)  // more than the initial stream and connection windows
        XCTAssertEqual(try huge.send(to: server).status, 413)
        XCTAssertEqual(server.received.last?.body.count, 8192, "recorded bodies are capped")
    }

    func testUnregisteredTokenGets410WithTimestamp() async throws {
        let server = try await self.startMock { configuration in
            configuration.unregisteredTokens = [TestCredentials.deviceToken.uppercased(): 1_700_000_000_123]
        }
        var push = CurlPush()
        push.headers.append(("authorization", "bearer \(try TestJWT.valid())"))

        let response = try push.send(to: server)

        XCTAssertEqual(response.status, 410)
        XCTAssertEqual(response.reason, "Unregistered")
        XCTAssertEqual(response.timestamp, 1_700_000_000_123)
    }

    func testWrongMethodAndPath() async throws {
        let server = try await self.startMock()
        let jwt = try TestJWT.valid()

        var get = CurlPush()
        get.method = "GET"
        get.body = nil
        get.headers.append(("authorization", "bearer \(jwt)"))
        let methodResponse = try get.send(to: server)
        XCTAssertEqual(methodResponse.status, 405)
        XCTAssertEqual(methodResponse.reason, "MethodNotAllowed")

        var wrongPath = CurlPush()
        wrongPath.path = "/3/devices/abcd"
        wrongPath.headers.append(("authorization", "bearer \(jwt)"))
        let pathResponse = try wrongPath.send(to: server)
        XCTAssertEqual(pathResponse.status, 404)
        XCTAssertEqual(pathResponse.reason, "BadPath")
    }

    func testClientWithoutHTTP2IsRefused() async throws {
        let server = try await self.startMock()
        var push = CurlPush()
        push.extraArguments = ["--http1.1"]

        let run = try ToolRun.run(CurlPush.curl, push.arguments(port: server.port))

        XCTAssertNotEqual(run.status, 0, "an HTTP/1.1 client must not get an answer")
        XCTAssertTrue(server.received.isEmpty)
    }

    func testCertificateAuthenticationNeedsAClientCertificateButNoToken() async throws {
        let server = try await self.startMock { configuration in
            configuration.trustRootsForClientCertificates = TestCredentials.path("test-ca.pem")
        }
        var withCertificate = CurlPush()
        withCertificate.extraArguments = [
            "--cert", TestCredentials.path("client.pem"), "--key", TestCredentials.path("client.key"),
        ]
        withCertificate.headers.append(("authorization", "bearer not-checked"))
        XCTAssertEqual(try withCertificate.send(to: server).status, 200)

        let withoutCertificate = try ToolRun.run(CurlPush.curl, CurlPush().arguments(port: server.port))
        XCTAssertNotEqual(withoutCertificate.status, 0, "the TLS handshake must fail without a client certificate")
        XCTAssertEqual(server.received.count, 1)
    }

    func testRecorderIsBoundedAndCanBeReset() async throws {
        let server = try await self.startMock { configuration in
            configuration.maxRecordedRequests = 2
        }
        var push = CurlPush()
        push.headers.append(("authorization", "bearer \(try TestJWT.valid())"))

        let responses = try push.send(to: server, times: 3)

        XCTAssertEqual(responses.map(\.status), [200, 200, 200])
        XCTAssertEqual(server.received.count, 2)
        XCTAssertEqual(server.stats.recordsDropped, 1)
        XCTAssertEqual(server.stats.streamsReceived, 3)
        server.resetRecord()
        XCTAssertTrue(server.received.isEmpty)
        XCTAssertEqual(server.stats, MockStats())
    }
}
