import HTTP2Engine
import XCTest

final class HTTP2HeaderWriterTests: XCTestCase {
    func testDecimalValues() {
        var writer = HTTP2HeaderWriter.forInspection()
        let values: [Int64] = [0, 1, 9, 10, 99, 100, 1_700_000_000, -5, Int64.max, Int64.min]
        for value in values {
            writer.add("apns-expiration", decimal: value)
        }
        XCTAssertEqual(writer.fieldsForInspection.map(\.value), values.map { String($0) })
    }

    func testResetKeepsNothing() {
        var writer = HTTP2HeaderWriter.forInspection()
        writer.add(":path", prefix: "/3/device/", "abcd")
        writer.reset()
        writer.add("apns-priority", decimal: 10)
        XCTAssertEqual(writer.fieldsForInspection, [HTTP2Header(name: "apns-priority", value: "10")])
    }

    /// More fields and value bytes than the writer starts with (16 and 1 KiB): it grows and keeps every field,
    /// also after a reset.
    func testManyAndLongFieldsOutgrowTheInitialStorage() {
        var writer = HTTP2HeaderWriter.forInspection()
        for round in 0..<2 {
            writer.reset()
            var expected: [HTTP2Header] = []
            for index in 0..<40 {
                let value = String(repeating: Character(UnicodeScalar(UInt8(97 + (index + round) % 26))), count: 10 + index * 7)
                writer.add("x-field", value)
                expected.append(HTTP2Header(name: "x-field", value: value))
                writer.add(":path", prefix: "/3/device/", value)
                expected.append(HTTP2Header(name: ":path", value: "/3/device/" + value))
                writer.add("apns-priority", "" as StaticString)
                expected.append(HTTP2Header(name: "apns-priority", value: ""))
            }
            XCTAssertEqual(writer.fieldsForInspection, expected, "round \(round)")
        }
    }

    func testResponseHeaderFields() {
        let headers = [
            HTTP2Header(name: "apns-id", value: "4f2b1c3e-6a7d-4e8f-9a0b-1c2d3e4f5a6b"),
            HTTP2Header(name: "server", value: ""),
            HTTP2Header(name: "apns-id", value: "second"),
            HTTP2Header(name: "x-\u{e9}", value: "caf\u{e9}"),
        ]
        var response = HTTP2Response(status: 200, headers: headers)
        XCTAssertEqual(response.headers, headers)
        XCTAssertEqual(response.header("apns-id"), "4f2b1c3e-6a7d-4e8f-9a0b-1c2d3e4f5a6b", "the first field of that name")
        XCTAssertEqual(response.header("server"), "")
        XCTAssertEqual(response.header("x-\u{e9}"), "caf\u{e9}")
        XCTAssertNil(response.header("apns-unique-id"))
        XCTAssertEqual(response, HTTP2Response(status: 200, headers: headers))
        XCTAssertNotEqual(response, HTTP2Response(status: 200, headers: Array(headers.dropLast())))
        response.headers.append(HTTP2Header(name: "retry-after", value: "5"))
        XCTAssertEqual(response.header("retry-after"), "5")
        XCTAssertEqual(HTTP2Response(status: 204).headers, [])
    }
}
