import Foundation
import LiveActivity
import LiveActivityService
import XCTest

/// `activity.update` and `activity.end` with `streamId`: every activity registered with that stream.
final class StreamPushTests: XCTestCase {
    func testUpdateAndEndByStreamReachEveryActivityInTheStreamOnly() async throws {
        let harness = try await ServiceHarness.start()
        let inStream = [(activity: "m1", device: "d1", token: deviceToken(1)), (activity: "m1", device: "d2", token: deviceToken(2)),
                        (activity: "m2", device: "d3", token: deviceToken(3)), (activity: "m3", device: "d4", token: deviceToken(4))]
        for (index, item) in inStream.enumerated() {
            let reply = try await harness.request(
                #"{"id":\#(index),"op":"activity.register","activityId":"\#(item.activity)","deviceId":"\#(item.device)","token":"\#(item.token)","streamId":"match-7"}"#)
            XCTAssertEqual(reply["registered"] as? String, "created", "\(reply)")
        }
        let outside = deviceToken(5)
        let other = try await harness.request(
            #"{"id":9,"op":"activity.register","activityId":"x1","deviceId":"d5","token":"\#(outside)","streamId":"other"}"#)
        XCTAssertEqual(other["registered"] as? String, "created")
        XCTAssertEqual(try harness.registry.markDead(token: deviceToken(2), at: harness.clock.now, reason: "BadDeviceToken"), 1)

        let update = try await harness.request(
            #"{"id":"u","op":"activity.update","streamId":"match-7","contentState":{"minute":80}}"#)
        XCTAssertNil(update.errorCode, "\(update)")
        XCTAssertEqual(update["streamId"] as? String, "match-7")
        XCTAssertEqual(update["activities"] as? Int, 3)
        XCTAssertEqual(update["event"] as? String, "update")
        XCTAssertEqual(update.counts["tokens"], 4)
        XCTAssertEqual(update.counts["sent"], 3)
        XCTAssertEqual(update.counts["succeeded"], 3)
        XCTAssertEqual(update.counts["skippedDead"], 1)
        XCTAssertEqual(update.results.map { $0["activityId"] as? String }, ["m1", "m1", "m2", "m3"], "each result names its activity")
        let delivered = harness.received(for: Set(inStream.map(\.token) + [outside]))
        XCTAssertEqual(Set(delivered.map(\.deviceToken)), [deviceToken(1), deviceToken(3), deviceToken(4)])
        XCTAssertEqual(delivered.count, 3, "one push per live token")

        harness.mock.resetRecord()
        let end = try await harness.request(#"{"id":"e","op":"activity.end","streamId":"match-7","contentState":{"final":true},"dismissalDate":"now"}"#)
        XCTAssertEqual(end["event"] as? String, "end")
        XCTAssertEqual(end.counts["sent"], 3)
        XCTAssertEqual(harness.received(for: [outside]).count, 0, "the other stream is untouched")
        try await harness.stop()
    }

    func testStreamTargetErrors() async throws {
        var configuration = LiveActivityServiceConfiguration(schedulerInterval: .milliseconds(50))
        configuration.maxTokensPerStart = 2
        let harness = try await ServiceHarness.start(configuration: configuration)
        for index in 0..<3 {
            _ = try await harness.request(
                #"{"id":\#(index),"op":"activity.register","activityId":"a\#(index)","deviceId":"d","token":"\#(deviceToken(index))","streamId":"big"}"#)
        }
        let cases: [(String, String, String)] = [
            (#"{"id":1,"op":"activity.update","activityId":"a0","streamId":"big","contentState":{}}"#, "BadRequest", "streamId"),
            (#"{"id":1,"op":"activity.update","contentState":{}}"#, "BadRequest", "activityId"),
            (#"{"id":1,"op":"activity.update","streamId":"nobody","contentState":{}}"#, "UnknownStream", "streamId"),
            (#"{"id":1,"op":"activity.end","streamId":"big","contentState":{}}"#, "TooManyTokens", "streamId"),
            (#"{"id":1,"op":"activity.update","streamId":"","contentState":{}}"#, "BadRequest", "streamId"),
        ]
        for (request, code, field) in cases {
            let reply = try await harness.request(request)
            XCTAssertEqual(reply.errorCode, code, "\(request) → \(reply)")
            XCTAssertEqual(reply.errorField, field, "\(request) → \(reply)")
        }
        XCTAssertEqual(harness.received(for: Set((0..<3).map(deviceToken))).count, 0, "nothing was sent")
        try await harness.stop()
    }
}
