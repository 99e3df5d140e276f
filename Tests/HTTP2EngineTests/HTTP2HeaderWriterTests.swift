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
