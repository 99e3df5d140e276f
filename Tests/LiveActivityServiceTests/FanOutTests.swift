import Foundation
import LiveActivity
import LiveActivityService
import XCTest

final class FanOutTests: XCTestCase {
    /// One update to 1,000 registered tokens: every live token gets exactly one push with the Live Activity
    /// headers and the exact payload bytes; tokens already dead are skipped; tokens APNs answers 410 for are
    /// retired in the registry and skipped by the next update.
    func testUpdateReachesEveryLiveTokenOnceAndRetiresUnregisteredOnes() async throws {
        let tokens = (0..<1000).map { deviceToken(10_000 + $0) }
        let alreadyDead = Set(tokens[0..<10])
        let unregistered = Array(tokens[10..<30])
        let deathMilliseconds = (ServiceHarness.start + 100) * 1000
        // The client's bound (300) is well under the fan-out: it is handed over as room comes free.
        let harness = try await ServiceHarness.start(
            unregistered: Dictionary(uniqueKeysWithValues: unregistered.map { ($0, deathMilliseconds) }), maxOutstanding: 300)
        try harness.registerTokens(activityID: "match-42", tokens: tokens)
        for token in alreadyDead {
            XCTAssertEqual(try harness.registry.markDead(token: token, at: harness.clock.now, reason: "BadDeviceToken"), 1)
        }

        let contentState = #"{ "score": [1, 0], "minute": 67 }"#
        let reply = try await harness.request(
            #"{"id":"u1","op":"activity.update","activityId":"match-42","contentState":\#(contentState)}"#)
        XCTAssertNil(reply.errorCode, "\(reply)")
        XCTAssertEqual(reply["activityId"] as? String, "match-42")
        XCTAssertEqual(reply["event"] as? String, "update")
        XCTAssertEqual(reply.counts, [
            "tokens": 1000, "sent": 990, "succeeded": 970, "failed": 20, "skippedDead": 10, "skippedOther": 0, "retired": 20,
        ])
        XCTAssertEqual(reply.results.count, 1000)
        let retiredResults = reply.results.filter { $0["retired"] as? Bool == true }
        XCTAssertEqual(retiredResults.count, 20)
        XCTAssertTrue(retiredResults.allSatisfy {
            $0["status"] as? Int == 410 && $0["reason"] as? String == "Unregistered"
                && ($0["timestamp"] as? NSNumber)?.int64Value == deathMilliseconds
        })
        XCTAssertEqual(reply.results.filter { $0["skipped"] as? String == "Dead" }.count, 10)
        // Tokens are shown as a prefix only.
        XCTAssertTrue(reply.results.allSatisfy { ($0["token"] as? String)?.count == 9 && ($0["token"] as? String)?.hasSuffix("…") == true })

        let expectedBody = Array(
            #"{"aps":{"timestamp":\#(ServiceHarness.start),"event":"update","content-state":\#(contentState)}}"#.utf8)
        let received = harness.received(for: Set(tokens))
        XCTAssertEqual(received.count, 990)
        XCTAssertEqual(Set(received.map(\.deviceToken)), Set(tokens).subtracting(alreadyDead))
        XCTAssertEqual(received.filter { $0.path != "/3/device/\($0.deviceToken)" }.count, 0)
        XCTAssertEqual(received.filter { $0.headers["apns-push-type"] != "liveactivity" }.count, 0)
        XCTAssertEqual(received.filter { $0.headers["apns-topic"] != "com.example.app.push-type.liveactivity" }.count, 0)
        XCTAssertEqual(received.filter { $0.headers["apns-priority"] != "5" }.count, 0)
        XCTAssertEqual(received.filter { $0.body != expectedBody }.count, 0, String(decoding: received.first?.body ?? [], as: UTF8.self))

        // The registry now holds the 20 as dead, with APNs's time and reason.
        let records = try harness.registry.allTokens(forActivity: "match-42")
        XCTAssertEqual(records.filter(\.isDead).count, 30)
        for token in unregistered {
            let record = records.first { $0.token == token }
            XCTAssertEqual(record?.deadAt, ServiceHarness.start + 100)
            XCTAssertEqual(record?.deadReason, "Unregistered")
        }

        // The next update skips all 30.
        harness.mock.resetRecord()
        harness.clock.advance(by: 200)
        let second = try await harness.request(
            #"{"id":"u2","op":"activity.update","activityId":"match-42","contentState":{"score":[2,0]},"priority":10}"#)
        XCTAssertEqual(second.counts["sent"], 970)
        XCTAssertEqual(second.counts["succeeded"], 970)
        XCTAssertEqual(second.counts["skippedDead"], 30)
        XCTAssertEqual(second.counts["retired"], 0)
        let again = harness.received(for: Set(tokens))
        XCTAssertEqual(again.count, 970)
        XCTAssertTrue(Set(again.map(\.deviceToken)).isDisjoint(with: alreadyDead.union(unregistered)))
        XCTAssertEqual(again.filter { $0.headers["apns-priority"] != "10" }.count, 0)
        try await harness.stop()
    }

    /// A token the device registers again after APNs's 410 stays alive: the registration is newer than the death.
    func testTokenRegisteredAfterTheReportedDeathIsNotRetired() async throws {
        let token = deviceToken(7)
        let harness = try await ServiceHarness.start(unregistered: [token: (ServiceHarness.start - 100) * 1000])
        try harness.registerTokens(activityID: "a", tokens: [token])
        let reply = try await harness.request(#"{"id":1,"op":"activity.update","activityId":"a","contentState":{}}"#)
        XCTAssertEqual(reply.counts["failed"], 1)
        XCTAssertEqual(reply.counts["retired"], 0)
        XCTAssertEqual(try harness.registry.tokens(forActivity: "a").count, 1)
        try await harness.stop()
    }
}
