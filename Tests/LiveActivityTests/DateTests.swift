import LiveActivity
import XCTest

final class DateTests: XCTestCase {
    func testEpochSeconds() {
        XCTAssertEqual(LiveActivityDate.parse("1685952000"), 1_685_952_000)
        XCTAssertEqual(LiveActivityDate.parse("0"), 0)
        XCTAssertEqual(LiveActivityDate.parse("01685952000"), 1_685_952_000)
        XCTAssertNil(LiveActivityDate.parse("0001685952000"), "more than 12 digits")
        XCTAssertEqual(LiveActivityDate.parse("253402300799"), LiveActivityDate.latest)
    }

    func testISO8601() {
        let cases: [(String, Int64)] = [
            ("2023-06-05T08:00:00Z", 1_685_952_000),
            ("2023-06-05t08:00:00z", 1_685_952_000),
            ("2023-06-05T08:00:00.999Z", 1_685_952_000),
            ("2023-06-05T08:00:00.1234567890Z", 1_685_952_000),
            ("2023-06-05T10:00:00+02:00", 1_685_952_000),
            ("2023-06-05T10:00:00+0200", 1_685_952_000),
            ("2023-06-05T02:30:00-05:30", 1_685_952_000),
            ("2023-06-05T02:30:00.5-05:30", 1_685_952_000),
            ("2023-06-05T08:00:00+00:00", 1_685_952_000),
            ("2023-06-05T08:00:00-00:00", 1_685_952_000),
            ("2024-02-29T00:00:00Z", 1_709_164_800),
            ("2000-03-01T12:34:56Z", 951_914_096),
            ("1970-01-01T00:00:00Z", 0),
            ("1970-01-01T01:00:00+01:00", 0),
            ("9999-12-31T23:59:59Z", LiveActivityDate.latest),
        ]
        for (text, expected) in cases {
            XCTAssertEqual(LiveActivityDate.parse(text), expected, text)
        }
    }

    func testBadInputs() {
        let bad = [
            "", " ", " 1685952000", "1685952000 ", "-1", "+5", "1.5", "1e9", "0x10", "999999999999",
            "１２３",  // full-width digits
            "2023-06-05", "2023-06-05T08:00Z", "2023-06-05T08:00:00", "2023-06-05 08:00:00Z",
            "2023-06-05T08:00:00.Z", "2023-06-05T08:00:00Zjunk", "2023-6-05T08:00:00Z", "23-06-05T08:00:00Z",
            "2023-02-29T00:00:00Z", "2023-04-31T00:00:00Z", "2023-13-01T00:00:00Z", "2023-00-10T00:00:00Z",
            "2023-06-00T00:00:00Z", "2023-06-05T24:00:00Z", "2023-06-05T08:60:00Z", "2023-06-05T08:00:60Z",
            "2023-06-05T08:00:00+24:00", "2023-06-05T08:00:00+02:60", "2023-06-05T08:00:00+2", "2023-06-05T08:00:00+02:0",
            "1969-12-31T23:59:59Z", "1970-01-01T00:00:00+00:01", "2100-02-29T00:00:00Z",
            "yesterday", "2023-06-05T08:00:00\u{0}Z",
        ]
        for text in bad {
            XCTAssertNil(LiveActivityDate.parse(text), text)
        }
    }

    func testThrowingParseNamesTheField() {
        XCTAssertEqual(try LiveActivityDate.parse("2023-06-05T08:00:00Z", field: "stale-date"), 1_685_952_000)
        let error = assertThrows(LiveActivityPayloadError.badDate(field: "stale-date", value: "soon")) {
            () throws(LiveActivityPayloadError) in try LiveActivityDate.parse("soon", field: "stale-date")
        }
        XCTAssertEqual(error?.field, "stale-date")
        XCTAssertEqual(
            error?.description,
            "\"stale-date\" \"soon\" is not a date: use epoch seconds (a non-negative integer) "
                + "or ISO-8601 like 2024-06-05T08:00:00Z, from 1970 to 9999")
    }

    func testParsedDatesFeedThePayload() throws {
        var payload = LiveActivityPayload.end(contentState: json("{}"))
        payload.dismissalDate = try LiveActivityDate.parse("2023-06-05T10:00:00+02:00", field: "dismissal-date")
        payload.timestamp = try LiveActivityDate.parse("1685950000", field: "timestamp")
        XCTAssertEqual(
            String(buffer: try payload.encode(now: 0)),
            #"{"aps":{"timestamp":1685950000,"event":"end","content-state":{},"dismissal-date":1685952000}}"#)
    }
}
