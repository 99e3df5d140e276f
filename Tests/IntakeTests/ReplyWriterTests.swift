import APNs
import JSON
import NIOCore
import XCTest

@testable import Intake

/// The reply of a `send` is written result by result straight into the buffer's memory (`ResultEncoder`, with the
/// JSON module's escaper and integer writer): members in their order, strings escaped, integers at their extremes.
final class ReplyWriterTests: XCTestCase {
    private static let results: [APNsResult] = [
        APNsResult(source: .apns, status: 200, apnsID: "4f2b1c3e-6a7d-4e8f-9a0b-1c2d3e4f5a6b", attempts: 1),
        APNsResult(source: .apns, status: 200),
        APNsResult(source: .apns, status: 410, reason: "Unregistered", apnsID: "id", timestamp: 1_700_000_000_000, attempts: 2),
        APNsResult(source: .local, reason: "BadDeviceToken", detail: "token \"ab\\cd\" has\na new line, a tab\t and \u{01}\u{1F}"),
        APNsResult(source: .gateway, reason: "DeadlineExceeded", detail: "caf\u{e9} \u{1F600} \u{7F}", retriedAfterUnknownOutcome: true),
        APNsResult(source: .apns, status: 0, timestamp: Int64.max),
        APNsResult(source: .gateway, status: 503, timestamp: Int64.min, requestID: "r-1\u{08}\u{0C}\r"),
        APNsResult(source: .apns, status: 9, reason: "", apnsID: String(repeating: "\"", count: 300)),
        // 36 ASCII bytes, kept inline, with bytes to escape.
        APNsResult(source: .apns, status: 200, apnsID: "\"\\\n\u{01}" + String(repeating: "a", count: 32)),
    ]

    func testResultsAreWrittenWithTheirMembersInOrderAndEscaped() {
        let expected = [
            #"{"status":200,"apnsId":"4f2b1c3e-6a7d-4e8f-9a0b-1c2d3e4f5a6b","source":"apns"}"#,
            #"{"status":200,"source":"apns"}"#,
            #"{"status":410,"reason":"Unregistered","apnsId":"id","timestamp":1700000000000,"source":"apns"}"#,
            #"{"reason":"BadDeviceToken","source":"local","detail":"token \"ab\\cd\" has\na new line, a tab\t and \u0001\u001f"}"#,
            #"{"reason":"DeadlineExceeded","source":"gateway","detail":"caf\#u{e9} \#u{1F600} \#u{7F}","maybeDuplicate":true}"#,
            #"{"status":0,"timestamp":9223372036854775807,"source":"apns"}"#,
            #"{"status":503,"requestId":"r-1\b\f\r","timestamp":-9223372036854775808,"source":"gateway"}"#,
            #"{"status":9,"reason":"","apnsId":""# + String(repeating: #"\""#, count: 300) + #"","source":"apns"}"#,
            #"{"status":200,"apnsId":"\"\\\n\u0001"# + String(repeating: "a", count: 32) + #"","source":"apns"}"#,
        ]
        // A small buffer, so that the writes grow it.
        var buffer = ByteBufferAllocator().buffer(capacity: 16)
        ReplyWriter.results(id: ByteBuffer(string: "\"req-7\""), Self.results, into: &buffer)
        XCTAssertEqual(String(buffer: buffer), #"{"id":"req-7","results":["# + expected.joined(separator: ",") + "]}\n")
    }

    func testNoResultsMakeAnEmptyArray() {
        var buffer = ByteBuffer()
        ReplyWriter.results(id: ByteBuffer(string: "3"), [], into: &buffer)
        XCTAssertEqual(String(buffer: buffer), "{\"id\":3,\"results\":[]}\n")
    }

    func testEveryReplyIsValidJSON() throws {
        var buffer = ByteBuffer()
        ReplyWriter.results(id: ByteBuffer(string: "1"), Self.results, into: &buffer)
        var line = buffer
        line.moveWriterIndex(to: buffer.writerIndex - 1)  // without the newline
        XCTAssertNoThrow(try JSONReader.validateObject(line))
    }
}
