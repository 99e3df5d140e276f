import GatewayTestSupport
import Foundation
import XCTest

final class MalformedInputTests: XCTestCase {
    /// Every kind of bad line gets its own error reply, and the same connection keeps working afterwards.
    func testEveryMalformedLineGetsItsErrorAndTheConnectionSurvives() async throws {
        let harness = try await IntakeHarness.start(maxLineBytes: 4096, maxBatchSize: 3)
        let path = harness.socketPath
        let token = deviceToken(1)
        let longLine = #"{"id":"long","op":"ping","pad":""# + String(repeating: "x", count: 10_000) + #""}"#
        let cases: [(line: String, code: String, id: String)] = [
            ("not json", "InvalidJSON", "null"),
            (#"{"id":1,"op":"ping""#, "InvalidJSON", "null"),
            (#"{"id":1,"op":"ping"} trailing"#, "InvalidJSON", "null"),
            (#"{"id":"a\u00zz"}"#, "InvalidJSON", "null"),
            (String(repeating: "[", count: 100), "InvalidJSON", "null"),
            (longLine, "LineTooLong", "null"),
            (#"{"id":2,"op":"launch"}"#, "UnknownOp", "2"),
            (#"{"op":"ping"}"#, "BadRequest", "null"),
            (#"{"id":true,"op":"ping"}"#, "BadRequest", "null"),
            (#"{"id":3}"#, "BadRequest", "3"),
            (#"{"id":4,"op":7}"#, "BadRequest", "4"),
            (#"{"id":"five","op":"send"}"#, "BadRequest", "\"five\""),
            (#"{"id":6,"op":"send","notifications":{"token":"x"}}"#, "BadRequest", "6"),
            (#"[1,2,3]"#, "BadRequest", "null"),
            (#"{"id":7,"op":"send","notifications":[{},{},{},{}]}"#, "BatchTooLarge", "7"),
        ]
        let replies: [String] = await onThread {
            guard let socket = try? RawSocket(path: path) else { return [] }
            defer { socket.closeSocket() }
            var replies: [String] = []
            for (line, _, _) in cases {
                socket.write(Array((line + "\n").utf8))
                replies += socket.readLines(1)
            }
            // An over-long line arriving in pieces, then a line ending in CRLF, then a blank line.
            socket.write(Array(String(repeating: "y", count: 3000).utf8))
            socket.write(Array((String(repeating: "z", count: 7000) + "\n").utf8))
            replies += socket.readLines(1)
            socket.write(Array("\n{\"id\":\"crlf\",\"op\":\"ping\"}\r\n".utf8))
            replies += socket.readLines(1)
            return replies
        }
        XCTAssertEqual(replies.count, cases.count + 2)
        for (index, (line, code, id)) in cases.enumerated() where index < replies.count {
            let reply = replies[index]
            XCTAssertTrue(reply.hasPrefix("{\"id\":\(id),\"error\":{\"code\":\"\(code)\""), "line \(line.prefix(60)) got \(reply)")
        }
        if replies.count == cases.count + 2 {
            XCTAssertTrue(replies[cases.count].contains("\"LineTooLong\""), replies[cases.count])
            XCTAssertEqual(replies[cases.count + 1], #"{"id":"crlf","pong":true}"#)
        }

        // Items: each bad one fails alone, the good one goes through.
        let items = [
            #"{"token":"\#(token)","payload":{"aps":{}},"app":"nope"}"#,
            #"{"token":"\#(token)","payload":{"aps":{}},"pushType":"fax"}"#,
            #"{"token":"\#(token)","payload":{"aps":{}},"priority":7}"#,
        ]
        let more = [
            #"{"token":"\#(token)"}"#,
            #"{"token":"\#(token)","payload":{"aps":{}},"colapseId":"x"}"#,
            #"{"token":"\#(token)","payload":{"aps":{"alert":"ok"}}}"#,
        ]
        let batchReplies: [String] = await onThread {
            guard let socket = try? RawSocket(path: path) else { return [] }
            defer { socket.closeSocket() }
            socket.write(Array((#"{"id":"b1","op":"send","notifications":[\#(items.joined(separator: ","))]}"# + "\n").utf8))
            socket.write(Array((#"{"id":"b2","op":"send","notifications":[\#(more.joined(separator: ","))]}"# + "\n").utf8))
            return socket.readLines(2)
        }
        XCTAssertEqual(batchReplies.count, 2)
        let decoded = Dictionary(uniqueKeysWithValues: batchReplies.compactMap { line -> (String, [[String: Any]])? in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let id = object["id"] as? String, let results = object["results"] as? [[String: Any]]
            else { return nil }
            return (id, results)
        })
        XCTAssertEqual(decoded["b1"]?.map { $0["reason"] as? String }, ["UnknownApp", "InvalidPushType", "BadPriority"])
        XCTAssertEqual(decoded["b2"]?.map { $0["reason"] as? String }, ["BadRequest", "BadRequest", nil])
        XCTAssertEqual(decoded["b2"]?.last?["status"] as? Int, 200)
        XCTAssertEqual(decoded["b1"]?.first?["source"] as? String, "local")
        try await harness.stop()
    }

    /// A client that half-closes after its requests still gets every reply, then the connection closes.
    func testHalfClosedClientGetsItsReplies() async throws {
        let harness = try await IntakeHarness.start()
        let path = harness.socketPath
        let token = deviceToken(7)
        let lines: [String] = await onThread {
            guard let socket = try? RawSocket(path: path) else { return [] }
            defer { socket.closeSocket() }
            socket.write(Array((#"{"id":1,"op":"send","notifications":[{"token":"\#(token)","payload":{"aps":{}}}]}"# + "\n").utf8))
            socket.write(Array(#"{"id":2,"op":"ping"}"#.utf8))  // no newline: ends at end of stream
            socket.shutdownWrite()
            return socket.readLines(10)
        }
        XCTAssertEqual(lines.count, 2)
        XCTAssertTrue(lines.contains(#"{"id":2,"pong":true}"#), "\(lines)")
        XCTAssertTrue(lines.contains { $0.hasPrefix(#"{"id":1,"results":[{"status":200"#) }, "\(lines)")
        try await harness.stop()
    }

    /// Connections beyond `maxConnections` are answered `TooManyConnections` and closed; the others carry on.
    func testConnectionsBeyondTheLimitAreRefused() async throws {
        let harness = try await IntakeHarness.start(maxConnections: 2)
        let path = harness.socketPath
        let replies: [String] = await onThread {
            guard let first = try? RawSocket(path: path), let second = try? RawSocket(path: path) else { return [] }
            defer {
                first.closeSocket()
                second.closeSocket()
            }
            // Both are registered once they answered a ping.
            first.write(Array("{\"id\":1,\"op\":\"ping\"}\n".utf8))
            second.write(Array("{\"id\":2,\"op\":\"ping\"}\n".utf8))
            var replies = first.readLines(1) + second.readLines(1)
            guard let third = try? RawSocket(path: path) else { return replies }
            replies += third.readLines(2)  // the refusal, then end of stream
            third.closeSocket()
            first.write(Array("{\"id\":3,\"op\":\"ping\"}\n".utf8))
            replies += first.readLines(1)
            return replies
        }
        XCTAssertEqual(replies.count, 4, "\(replies)")
        XCTAssertEqual(replies.first, #"{"id":1,"pong":true}"#)
        XCTAssertTrue(replies.count > 2 && replies[2].contains("TooManyConnections"), "\(replies)")
        XCTAssertEqual(replies.last, #"{"id":3,"pong":true}"#)
        try await harness.stop()
    }
}
