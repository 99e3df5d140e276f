import APNsGatewayClient
import Foundation
import Intake
import Logging
import NIOCore
import XCTest

/// The network intake over real TLS connections on loopback: authentication by token and by client
/// certificate, scopes, rate limits, and the refusals, each one error line and a close.
final class NetworkIntakeTests: XCTestCase {
    func testAValidTokenSendsNotificationsAndGetsResultsBesideTheUnixSocket() async throws {
        let harness = try await NetworkIntakeHarness.start()
        do {
            var connection = try await harness.connect()
            try await connection.write(authLine(id: 7, token: TestTokens.backend) + sendLine(id: 8, count: 100) + #"{"id":9,"op":"ping"}"# + "\n")
            let authenticated = try await connection.nextObject()
            XCTAssertEqual(authenticated["id"] as? Int, 7)
            let principal = try XCTUnwrap(authenticated["authenticated"] as? [String: Any])
            XCTAssertEqual(principal["principal"] as? String, "backend")
            XCTAssertEqual(principal["scopes"] as? [String], ["send", "stats"])
            // Replies to pipelined requests may come in any order.
            var replies: [Int: [String: Any]] = [:]
            for _ in 0..<2 {
                let reply = try await connection.nextObject()
                replies[reply["id"] as? Int ?? -1] = reply
            }
            let results = replies[8]?.results ?? []
            XCTAssertEqual(results.count, 100)
            XCTAssertEqual(results.filter { $0["status"] as? Int == 200 }.count, 100, "\(results.prefix(3))")
            XCTAssertEqual(replies[9]?["pong"] as? Bool, true)
            try await connection.write(#"{"id":10,"op":"stats"}"# + "\n")
            let statsReply = try await connection.nextObject()
            let stats = try XCTUnwrap(statsReply["stats"] as? [String: Any])
            XCTAssertEqual((stats["intake"] as? [String: Any])?["notifications"] as? Int, 100)

            // The Unix socket serves at the same time, without authentication.
            let local = try await GatewayClient.connect(path: harness.socketPath)
            let localResults = try await local.send([GatewayNotification(token: deviceToken(500), payload: #"{"aps":{"alert":"hi"}}"#)])
            XCTAssertEqual(localResults.first?.status, 200)
            await local.close()
            await connection.close()
        } catch {
            XCTFail("\(error)")
        }
        try await harness.stop()
    }

    func testAWrongTokenGetsOneErrorLineAndTheClose() async throws {
        let harness = try await NetworkIntakeHarness.start()
        do {
            var connection = try await harness.connect()
            try await connection.write(authLine(id: 3, token: TestTokens.wrong) + sendLine(id: 4, count: 1))
            let lines = await connection.rest()
            XCTAssertEqual(lines.count, 1, "one line, then the close: \(lines)")
            let reply = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as! [String: Any]
            XCTAssertEqual(reply["id"] as? Int, 3)
            XCTAssertEqual(reply.errorCode, "Unauthenticated")
            XCTAssertEqual(reply.errorMessage, "the token is not valid")
            XCTAssertEqual(harness.intake.statistics.errors["Unauthenticated"], 1)
            XCTAssertEqual(harness.intake.statistics.notifications, 0, "nothing was sent")
        } catch {
            XCTFail("\(error)")
        }
        try await harness.stop()
    }

    func testAMissingTokenGetsOneErrorLineAndTheClose() async throws {
        let harness = try await NetworkIntakeHarness.start()
        do {
            // A request without authenticating first.
            var first = try await harness.connect()
            try await first.write(sendLine(id: 5, count: 2))
            let lines = await first.rest()
            XCTAssertEqual(lines.count, 1, "\(lines)")
            let reply = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as! [String: Any]
            XCTAssertEqual(reply["id"] as? Int, 5)
            XCTAssertEqual(reply.errorCode, "Unauthenticated")
            XCTAssertTrue(reply.errorMessage?.contains("authenticate first") == true, "\(lines[0])")

            // An auth line without its token.
            var second = try await harness.connect()
            try await second.write(#"{"id":6,"op":"auth"}"# + "\n")
            let other = await second.rest()
            XCTAssertEqual(other.count, 1, "\(other)")
            XCTAssertTrue(other[0].contains(#""code":"Unauthenticated""#) && other[0].contains("missing \\\"token\\\""), other[0])
            XCTAssertEqual(harness.intake.statistics.notifications, 0)
        } catch {
            XCTFail("\(error)")
        }
        try await harness.stop()
    }

    func testAnOpOutsideTheTokensScopesIsForbiddenAndTheConnectionCloses() async throws {
        let harness = try await NetworkIntakeHarness.start()
        do {
            var connection = try await harness.connect()
            try await connection.write(authLine(token: TestTokens.statsOnly) + #"{"id":2,"op":"stats"}"# + "\n" + sendLine(id: 3, count: 1))
            let authenticated = try await connection.nextObject()
            XCTAssertEqual((authenticated["authenticated"] as? [String: Any])?["scopes"] as? [String], ["stats"])
            let stats = try await connection.nextObject()
            XCTAssertNotNil(stats["stats"], "stats is in its scopes")
            let lines = await connection.rest()
            XCTAssertEqual(lines.count, 1, "one line, then the close: \(lines)")
            let reply = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as! [String: Any]
            XCTAssertEqual(reply["id"] as? Int, 3)
            XCTAssertEqual(reply.errorCode, "Forbidden")
            XCTAssertTrue(reply.errorMessage?.contains(#"needs the scope "send""#) == true, lines[0])
            XCTAssertEqual(harness.intake.statistics.notifications, 0, "nothing was sent")
        } catch {
            XCTFail("\(error)")
        }
        try await harness.stop()
    }

    func testPlainTCPToTheTLSPortGetsTLSRequiredAndTheClose() async throws {
        let harness = try await NetworkIntakeHarness.start()
        do {
            var connection = try await harness.connect(tls: false)
            try await connection.write(authLine(token: TestTokens.backend))
            let lines = await connection.rest()
            XCTAssertEqual(lines.count, 1, "\(lines)")
            XCTAssertTrue(lines.first?.contains(#""code":"TLSRequired""#) == true, "\(lines)")
            XCTAssertEqual(harness.intake.statistics.errors["TLSRequired"], 1)
        } catch {
            XCTFail("\(error)")
        }
        try await harness.stop()
    }

    func testNotificationsOverTheRateLimitAreAnsweredRateLimitedAndTheConnectionStaysOpen() async throws {
        let harness = try await NetworkIntakeHarness.start()
        do {
            var connection = try await harness.connect()
            // A bucket of 10 refilled at 10 a second: of 25 at once, the first 10 go.
            try await connection.write(authLine(token: TestTokens.limited) + sendLine(id: 2, count: 25))
            _ = try await connection.nextObject()
            let reply = try await connection.nextObject()
            let results = reply.results
            XCTAssertEqual(results.count, 25)
            XCTAssertEqual(results.prefix(10).filter { $0["status"] as? Int == 200 }.count, 10, "\(results.prefix(10))")
            for result in results.dropFirst(10) {
                XCTAssertEqual(result["reason"] as? String, "RateLimited")
                XCTAssertEqual(result["source"] as? String, "local")
                XCTAssertTrue((result["detail"] as? String)?.contains(#"rate limit of "limited" (10 notifications per second"#) == true, "\(result)")
            }
            XCTAssertEqual(harness.intake.statistics.rejections["RateLimited"], 15)
            try await connection.write(#"{"id":3,"op":"ping"}"# + "\n")
            let pong = try await connection.nextObject()
            XCTAssertEqual(pong["pong"] as? Bool, true, "the connection stays open")
            await connection.close()
        } catch {
            XCTFail("\(error)")
        }
        try await harness.stop()
    }

    func testNoAuthenticationInTimeGetsUnauthenticatedAndTheClose() async throws {
        let harness = try await NetworkIntakeHarness.start(authTimeout: .milliseconds(200))
        do {
            var connection = try await harness.connect()
            let lines = await connection.rest()
            XCTAssertEqual(lines.count, 1, "\(lines)")
            XCTAssertTrue(lines.first?.contains("no authentication within 0.2 seconds") == true, "\(lines)")
        } catch {
            XCTFail("\(error)")
        }
        try await harness.stop()
    }

    func testAClientCertificateWhoseNameMapsToAPrincipalAuthenticates() async throws {
        let credentials = try TestTokens.file(extra: ["pusher send unlimited cn:apns-gateway TEST-ONLY client"])
        let harness = try await NetworkIntakeHarness.start(credentials: credentials, clientCAFile: certificatePath("test-ca.pem"))
        do {
            var connection = try await harness.connect(clientCertificate: (certificatePath("client.pem"), certificatePath("client.key")))
            // No auth line: the certificate is the credential.
            try await connection.write(sendLine(id: 1, count: 20))
            let reply = try await connection.nextObject()
            XCTAssertEqual(reply.results.filter { $0["status"] as? Int == 200 }.count, 20, "\(reply)")
            try await connection.write(#"{"id":2,"op":"stats"}"# + "\n")
            let lines = await connection.rest()
            XCTAssertEqual(lines.count, 1, "\(lines)")
            XCTAssertTrue(lines.first?.contains(#""code":"Forbidden""#) == true, "pusher may only send: \(lines)")
        } catch {
            XCTFail("\(error)")
        }
        try await harness.stop()
    }

    func testMutualTLSRefusesAMissingCertificateAndOneFromAnotherCA() async throws {
        let credentials = try TestTokens.file(extra: ["pusher send unlimited cn:apns-gateway TEST-ONLY client"])
        let harness = try await NetworkIntakeHarness.start(credentials: credentials, clientCAFile: certificatePath("test-ca.pem"))
        do {
            var without = try await harness.connect()
            try? await without.write(authLine(token: TestTokens.backend) + sendLine(id: 2, count: 1))
            let lines = await without.rest()
            XCTAssertEqual(lines, [], "no certificate: the handshake fails, nothing is answered")
        } catch {
            // Refused during the handshake: also a refusal.
        }
        try await harness.stop()

        // A server that trusts only an unrelated CA refuses the test client's certificate.
        let strict = try await NetworkIntakeHarness.start(credentials: credentials, clientCAFile: certificatePath("other-ca.pem"))
        do {
            var connection = try await strict.connect(clientCertificate: (certificatePath("client.pem"), certificatePath("client.key")))
            try? await connection.write(sendLine(id: 1, count: 1))
            let lines = await connection.rest()
            XCTAssertEqual(lines, [], "an untrusted certificate: nothing is answered")
        } catch {
            // Refused during the handshake.
        }
        XCTAssertEqual(strict.intake.statistics.notifications, 0)
        try await strict.stop()
    }

    func testATrustedCertificateThatMapsToNobodyStillNeedsAToken() async throws {
        let credentials = try TestTokens.file(extra: ["someone-else send unlimited cn:another client"])
        let harness = try await NetworkIntakeHarness.start(credentials: credentials, clientCAFile: certificatePath("test-ca.pem"))
        do {
            let certificate = (certificatePath("client.pem"), certificatePath("client.key"))
            var anonymous = try await harness.connect(clientCertificate: certificate)
            try await anonymous.write(sendLine(id: 1, count: 1))
            let lines = await anonymous.rest()
            XCTAssertEqual(lines.count, 1, "\(lines)")
            XCTAssertTrue(lines.first?.contains(#""code":"Unauthenticated""#) == true, "\(lines)")

            var withToken = try await harness.connect(clientCertificate: certificate)
            try await withToken.write(authLine(token: TestTokens.backend) + sendLine(id: 2, count: 3))
            let authenticated = try await withToken.nextObject()
            XCTAssertNotNil(authenticated["authenticated"])
            let reply = try await withToken.nextObject()
            XCTAssertEqual(reply.results.filter { $0["status"] as? Int == 200 }.count, 3)
            await withToken.close()
        } catch {
            XCTFail("\(error)")
        }
        try await harness.stop()
    }

    func testNoTokenReachesTheLogs() async throws {
        let store = CollectingLogHandler.Store()
        var logger = Logger(label: "apns.test") { CollectingLogHandler(label: $0, store: store) }
        logger.logLevel = .trace
        let harness = try await NetworkIntakeHarness.start(logger: logger)
        do {
            var refused = try await harness.connect()
            try await refused.write(authLine(token: TestTokens.wrong))
            _ = await refused.rest()
            var accepted = try await harness.connect()
            try await accepted.write(authLine(token: TestTokens.backend) + sendLine(id: 2, count: 5))
            _ = try await accepted.nextObject()
            _ = try await accepted.nextObject()
            await accepted.close()
        } catch {
            XCTFail("\(error)")
        }
        try await harness.stop()
        let lines = store.lines
        XCTAssertTrue(lines.contains { $0.contains("intake client refused") && $0.contains("reason=unknown token") }, "\(lines)")
        XCTAssertTrue(lines.contains { $0.contains("intake client authenticated") && $0.contains("principal=backend") }, "\(lines)")
        for line in lines {
            for token in [TestTokens.wrong, TestTokens.backend] {
                XCTAssertFalse(line.contains(token), "a token in: \(line)")
                XCTAssertFalse(line.contains(String(token.suffix(16))), "part of a token in: \(line)")
            }
        }
    }
}
