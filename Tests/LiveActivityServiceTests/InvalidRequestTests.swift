import JSON
import Foundation
import Intake
import LiveActivity
import LiveActivityService
import NIOCore
import XCTest

final class InvalidRequestTests: XCTestCase {
    /// Every kind of invalid request gets its own error code, names the field at fault, explains the problem,
    /// and sends nothing.
    func testEveryInvalidRequestGetsASpecificErrorAndSendsNothing() async throws {
        let harness = try await ServiceHarness.start(
            configuration: LiveActivityServiceConfiguration(
                maxUsersPerStart: 3, maxTokensPerStart: 2, lifecycle: try PushOperationTests.lifecycle()))
        let token = deviceToken(1)
        try harness.registerTokens(activityID: "known", tokens: [token])
        _ = try harness.registry.schedule(
            ScheduledEndRequest(
                id: "taken", activityID: "known", app: ServiceHarness.bundleID, fireAt: ServiceHarness.start + 99,
                contentState: #"{"s":1}"#),
            at: harness.clock.now)
        let start = #""attributesType":"A","attributes":{"a":1},"contentState":{"s":1},"alert":{"title":"T"}"#
        let big = String(repeating: "x", count: 5000)
        let cases: [(line: String, code: String, field: String?, message: String)] = [
            // Registration
            (#"{"op":"activity.register","deviceId":"d","token":"\#(token)"}"#, "BadRequest", "activityId", "missing \"activityId\""),
            (#"{"op":"activity.register","activityId":5,"deviceId":"d","token":"\#(token)"}"#, "BadRequest", "activityId", "must be a string"),
            (#"{"op":"activity.register","activityId":"a\u0001","deviceId":"d","token":"\#(token)"}"#, "BadRequest", "activityId", "control character"),
            (#"{"op":"activity.register","activityId":"a","deviceId":"d","token":"xyz"}"#, "BadToken", "token", "hex"),
            (#"{"op":"activity.register","activityId":"a","deviceId":"d"}"#, "BadRequest", "token", "missing \"token\""),
            (#"{"op":"activity.register","activityID":"a","activityId":"a","deviceId":"d","token":"\#(token)"}"#, "BadRequest", "activityID", "unknown field"),
            (#"{"op":"activity.register","activityId":"a","deviceId":"d","token":"\#(deviceToken(2))","environment":"sandbox"}"#, "BadRequest", "environment", "\"production\" or \"development\""),
            (#"{"op":"activity.register","activityId":"a","deviceId":"d","token":"\#(deviceToken(2))","app":"nope"}"#, "UnknownApp", "app", "no app named \"nope\""),
            (#"{"op":"activity.register","activityId":"other","deviceId":"d","token":"\#(token)"}"#, "TokenConflict", "token", "already registered"),
            (#"{"op":"activity.unregister"}"#, "BadRequest", "activityId", "missing \"activityId\" or \"token\""),
            (#"{"op":"activity.unregister","activityId":"a","token":"\#(token)"}"#, "BadRequest", "token", "not both"),
            (#"{"op":"activity.register_push_to_start","deviceId":"d","token":"\#(token)"}"#, "BadRequest", "userId", "missing \"userId\""),
            // Update
            (#"{"op":"activity.update","activityId":"known"}"#, "BadRequest", "contentState", "missing \"contentState\""),
            (#"{"op":"activity.update","activityId":"known","contentState":"x"}"#, "BadRequest", "contentState", "must be a JSON object"),
            (#"{"op":"activity.update","activityId":"nobody","contentState":{}}"#, "UnknownActivity", "activityId", "no token is registered"),
            (#"{"op":"activity.update","activityId":"known","contentState":{},"priority":1}"#, "BadPriority", "priority", "take 5 (delivered when the device sees fit) or 10"),
            (#"{"op":"activity.update","activityId":"known","contentState":{},"priority":"10"}"#, "BadRequest", "priority", "must be an integer"),
            (#"{"op":"activity.update","activityId":"known","contentState":{},"staleDate":"tomorrow"}"#, "BadDate", "staleDate", "ISO-8601"),
            (#"{"op":"activity.update","activityId":"known","contentState":{},"staleDate":-5}"#, "BadDate", "staleDate", "not a date"),
            (#"{"op":"activity.update","activityId":"known","contentState":{},"dismissalDate":"2025-13-01T00:00:00Z"}"#, "BadDate", "dismissalDate", "not a date"),
            (#"{"op":"activity.update","activityId":"known","contentState":{},"timestamp":1.5}"#, "BadDate", "timestamp", "not a date"),
            (#"{"op":"activity.update","activityId":"known","contentState":{"text":"\#(big)"}}"#, "PayloadTooLarge", nil, "at most 4096"),
            (#"{"op":"activity.update","activityId":"known","contentState":{},"attributes":{}}"#, "BadRequest", "attributes", "unknown field"),
            (#"{"op":"activity.update","activityId":"known","contentState":{},"relevanceScore":"high"}"#, "BadRequest", "relevanceScore", "must be a number"),
            (#"{"op":"activity.update","activityId":"known","contentState":{},"alert":"hi"}"#, "BadRequest", "alert", "must be a JSON object"),
            (#"{"op":"activity.update","activityId":"known","contentState":{},"alert":{"sound":"default"}}"#, "InvalidPayload", "alert", "\"title\" or a \"body\""),
            (#"{"op":"activity.update","activityId":"known","contentState":{},"alert":{"title":"t","subtitle":"s"}}"#, "BadRequest", "alert", "unknown field in \"alert\""),
            (#"{"op":"activity.update","activityId":"known","contentState":{},"alert":{"title":{"locArgs":["x"]}}}"#, "BadRequest", "alert.title", "locKey"),
            // End
            (#"{"op":"activity.end","activityId":"known","contentState":{},"dismissalDate":"later"}"#, "BadDate", "dismissalDate", "not a date"),
            (#"{"op":"activity.end","activityId":"known","contentState":{},"dismissalDate":true}"#, "BadDate", "dismissalDate", "must be a date"),
            (#"{"op":"activity.end","activityId":"known","contentState":{},"priority":7}"#, "BadPriority", "priority", "not allowed"),
            (#"{"op":"activity.end","activityId":"known"}"#, "BadRequest", "contentState", "missing \"contentState\": an end needs the final content"),
            (#"{"op":"activity.end","activityId":"known","dismissalDate":"now"}"#, "BadRequest", "contentState", "APNs requires \"content-state\""),
            (#"{"op":"activity.end","streamId":"s"}"#, "BadRequest", "contentState", "missing \"contentState\""),
            // Start
            (#"{"op":"activity.start","userIds":["u"],"attributesType":"A","attributes":{},"contentState":{}}"#, "BadRequest", "alert", "needs an alert"),
            (#"{"op":"activity.start","userIds":["u"],"attributesType":"A","contentState":{},"alert":{"title":"T"}}"#, "BadRequest", "attributes", "static values"),
            (#"{"op":"activity.start","userIds":["u"],"attributes":{},"contentState":{},"alert":{"title":"T"}}"#, "BadRequest", "attributesType", "ActivityAttributes"),
            (#"{"op":"activity.start","userIds":["u"],"attributesType":"A","attributes":{},"alert":{"title":"T"}}"#, "BadRequest", "contentState", "initial content"),
            (#"{"op":"activity.start","userIds":["u"],"attributesType":"A","attributes":[1],"contentState":{},"alert":{"title":"T"}}"#, "BadRequest", "attributes", "must be a JSON object"),
            (#"{"op":"activity.start","userIds":["a","b","c","d"],\#(start)}"#, "TooManyUsers", "userIds", "at most 3"),
            (#"{"op":"activity.start","tokens":["\#(deviceToken(5))","\#(deviceToken(6))","\#(deviceToken(7))"],\#(start)}"#, "TooManyTokens", "tokens", "at most 2"),
            (#"{"op":"activity.start","userIds":["u"],"tokens":["\#(token)"],\#(start)}"#, "BadRequest", "tokens", "not both"),
            (#"{"op":"activity.start",\#(start)}"#, "BadRequest", "userIds", "missing \"userIds\""),
            (#"{"op":"activity.start","userIds":[""],\#(start)}"#, "BadRequest", "userIds", "non-empty string"),
            (#"{"op":"activity.start","userIds":[],\#(start)}"#, "BadRequest", "userIds", "is empty"),
            (#"{"op":"activity.start","tokens":["zz"],\#(start)}"#, "BadToken", "tokens[0]", "tokens[0]"),
            (#"{"op":"activity.start","userIds":["u"],"inputPushToken":"yes",\#(start)}"#, "BadRequest", "inputPushToken", "true or false"),
            (#"{"op":"activity.start","userIds":["u"],"dismissalDate":"now",\#(start)}"#, "BadRequest", "dismissalDate", "unknown field"),
            (#"{"op":"activity.start","userIds":["u"],"app":"other",\#(start)}"#, "UnknownApp", "app", "known: demo"),
            // Scheduled ends
            (#"{"op":"activity.schedule_end","activityId":"known"}"#, "BadRequest", "at", "missing \"at\""),
            (#"{"op":"activity.schedule_end","activityId":"known","at":"soon"}"#, "BadDate", "at", "not a date"),
            (#"{"op":"activity.schedule_end","activityId":"known","at":1750000100,"contentState":[]}"#, "BadRequest", "contentState", "must be a JSON object"),
            (#"{"op":"activity.schedule_end","activityId":"known","at":1750000100}"#, "BadRequest", "contentState", "missing \"contentState\": an end needs the final content"),
            (#"{"op":"activity.schedule_end","activityId":"known","at":1750000100,"scheduleId":"taken"}"#, "BadRequest", "contentState", "missing \"contentState\""),
            (#"{"op":"activity.schedule_end","activityId":"known","at":1750000100,"scheduleId":"taken","contentState":{"s":2}}"#, "ScheduleConflict", "scheduleId", "other details"),
            (#"{"op":"activity.cancel_scheduled_end","scheduleId":"never"}"#, "UnknownSchedule", "scheduleId", "no scheduled end has id \"never\""),
            (#"{"op":"activity.cancel_scheduled_end"}"#, "BadRequest", "scheduleId", "missing \"scheduleId\""),
            // Lifecycle
            (#"{"op":"activity.lifecycle","activityId":"known","state":"paused"}"#, "UnknownState", "state", "configured: cancelled, expired, started"),
            (#"{"op":"activity.lifecycle","activityId":"known","state":"cancelled"}"#, "BadRequest", "values", "values.reason"),
            (#"{"op":"activity.lifecycle","activityId":"known","state":"started","values":{"eta":[1]}}"#, "BadRequest", "values", "must be a string or a number"),
            (#"{"op":"activity.lifecycle","activityId":"nobody","state":"expired"}"#, "UnknownActivity", "activityId", "activity.register"),
        ]
        let lines = cases.enumerated().map { index, item in
            "{\"id\":\(index)," + item.line.dropFirst()
        }
        let replies = try await harness.requests(lines)
        XCTAssertEqual(replies.count, cases.count)
        for (index, (reply, item)) in zip(replies, cases).enumerated() {
            XCTAssertEqual(reply["id"] as? Int, index)
            XCTAssertEqual(reply.errorCode, item.code, "\(item.line.prefix(120)) → \(reply)")
            XCTAssertEqual(reply.errorField, item.field, "\(item.line.prefix(120)) → \(reply)")
            XCTAssertTrue(reply.errorMessage?.contains(item.message) == true, "\(item.line.prefix(120)) → \(reply.errorMessage ?? "none")")
        }
        XCTAssertEqual(harness.mock.received.count, 0, "nothing was sent")
        try await harness.stop()
    }

    /// The ops answer LiveActivitiesDisabled when the gateway runs without a registry.
    func testDisabledOperationsExplainWhy() async throws {
        let operations = LiveActivityService.disabledOperations(message: "not configured")
        XCTAssertEqual(Set(operations.keys), Set(LiveActivityService.operationNames))
        let reply = await operations["activity.update"]!.handle(
            .init(op: "activity.update", id: .init(string: "1"), members: try JSONObject(parsing: .init(string: #"{"id":1,"op":"activity.update"}"#))))
        XCTAssertEqual(String(buffer: reply.members), #""error":{"code":"LiveActivitiesDisabled","message":"not configured"}"#)
        XCTAssertEqual(reply.errorCode, "LiveActivitiesDisabled")
    }
}
