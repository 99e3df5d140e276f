import APNs
import JSON
import NIOCore
import XCTest

@testable import Intake

/// The reply of a `send` is written result by result straight into the buffer's memory (`ResultEncoder`); it must
/// be byte for byte what the JSON module's writer makes of the same results, escapes and all.
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
    ]

    func testResultsAreWrittenAsTheJSONWriterWritesThem() {
        var expected = JSONWriter(capacity: 64)
        expected.beginObject()
        expected.raw("id", ByteBuffer(string: "\"req-7\""))
        expected.beginArray("results")
        for result in Self.results {
            expected.beginObject()
            expected.result(result)
            expected.endObject()
        }
        expected.endArray()
        expected.endObject()
        var expectedBytes = expected.buffer
        expectedBytes.writeInteger(UInt8(ascii: "\n"))

        // A small buffer, so that the writes grow it.
        var buffer = ByteBufferAllocator().buffer(capacity: 16)
        ReplyWriter.results(id: ByteBuffer(string: "\"req-7\""), Self.results, into: &buffer)
        XCTAssertEqual(String(buffer: buffer), String(buffer: expectedBytes))
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
