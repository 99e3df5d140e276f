import JSON
import APNsCore
import Foundation
import LiveActivity
import NIOCore
import XCTest

final class PayloadTests: XCTestCase {
    private func encoded(_ payload: LiveActivityPayload, now: Int64 = 1_700_000_000) throws -> String {
        let buffer = try payload.encode(now: now)
        // Every output must be one valid JSON object.
        XCTAssertNoThrow(try JSONReader.validateObject(buffer))
        return String(buffer: buffer)
    }

    // MARK: Apple's documented shapes

    /// The start example: attributes-type, attributes, alert, content-state and timestamp.
    func testStartMatchesAppleExample() throws {
        let payload = LiveActivityPayload.start(
            contentState: json(#"{"currentHealthLevel":100,"eventDescription":"Adventure has begun!"}"#),
            attributesType: "AdventureAttributes",
            attributes: json(#"{"currentHealthLevel":100,"eventDescription":"Adventure has begun!"}"#),
            alert: LiveActivityAlert(
                title: .plain("Adventure Started!"),
                body: .plain("Power Panda has begun their adventure!"),
                sound: "chime.aiff"),
            timestamp: 1_685_952_000)
        XCTAssertEqual(
            try self.encoded(payload),
            #"{"aps":{"timestamp":1685952000,"event":"start","#
                + #""content-state":{"currentHealthLevel":100,"eventDescription":"Adventure has begun!"},"#
                + #""attributes-type":"AdventureAttributes","#
                + #""attributes":{"currentHealthLevel":100,"eventDescription":"Adventure has begun!"},"#
                + #""alert":{"title":"Adventure Started!","body":"Power Panda has begun their adventure!","sound":"chime.aiff"}}}"#
        )
    }

    /// The update example with an alert (localised title and body) and a stale date.
    func testUpdateWithStaleDateAndAlertMatchesAppleExample() throws {
        var payload = LiveActivityPayload.update(
            contentState: json(#"{"currentHealthLevel":0.941,"eventDescription":"Power Panda found a sword!"}"#),
            timestamp: 1_685_952_000)
        payload.staleDate = 1_685_959_200
        payload.alert = LiveActivityAlert(
            title: .localized(key: "%@ is on an adventure!", arguments: ["Power Panda"]),
            body: .localized(key: "%@ found a sword!", arguments: ["Power Panda"]),
            sound: "chime.aiff")
        XCTAssertEqual(
            try self.encoded(payload),
            #"{"aps":{"timestamp":1685952000,"event":"update","#
                + #""content-state":{"currentHealthLevel":0.941,"eventDescription":"Power Panda found a sword!"},"#
                + #""alert":{"title":{"loc-key":"%@ is on an adventure!","loc-args":["Power Panda"]},"#
                + #""body":{"loc-key":"%@ found a sword!","loc-args":["Power Panda"]},"sound":"chime.aiff"},"#
                + #""stale-date":1685959200}}"#
        )
    }

    /// The end example with a dismissal date.
    func testEndWithDismissalDateMatchesAppleExample() throws {
        let payload = LiveActivityPayload.end(
            contentState: json(#"{"currentHealthLevel":0,"eventDescription":"Power Panda has been knocked down!"}"#),
            dismissalDate: 1_685_959_200,
            timestamp: 1_685_952_000)
        XCTAssertEqual(
            try self.encoded(payload),
            #"{"aps":{"timestamp":1685952000,"event":"end","#
                + #""content-state":{"currentHealthLevel":0,"eventDescription":"Power Panda has been knocked down!"},"#
                + #""dismissal-date":1685959200}}"#
        )
    }

    /// Every member at once, in the documented key order.
    func testFullKeyOrder() throws {
        let start = LiveActivityPayload(
            event: .start, timestamp: 10, contentState: json(#"{"a":1}"#), attributesType: "T",
            attributes: json(#"{"b":2}"#), alert: LiveActivityAlert(title: .plain("t"), body: .plain("b"), sound: "s"),
            staleDate: 20, relevanceScore: 75, inputPushToken: true, inputPushChannel: "Y2hhbm5lbA==")
        XCTAssertEqual(
            try self.encoded(start),
            #"{"aps":{"timestamp":10,"event":"start","content-state":{"a":1},"attributes-type":"T","attributes":{"b":2},"#
                + #""alert":{"title":"t","body":"b","sound":"s"},"stale-date":20,"relevance-score":75,"#
                + #""input-push-token":1,"input-push-channel":"Y2hhbm5lbA=="}}"#)

        let update = LiveActivityPayload(
            event: .update, timestamp: 10, contentState: json(#"{"a":1}"#), staleDate: 20, dismissalDate: 30,
            relevanceScore: 0.5)
        XCTAssertEqual(
            try self.encoded(update),
            #"{"aps":{"timestamp":10,"event":"update","content-state":{"a":1},"stale-date":20,"dismissal-date":30,"#
                + #""relevance-score":0.5}}"#)
    }

    /// APNs wants the final content with an end: an end without it is refused, never encoded.
    func testEndWithoutContentStateIsRefused() throws {
        let end = LiveActivityPayload(event: .end, timestamp: 5, dismissalDate: 6)
        self.assertInvalid(end, .missingContentState(.end), field: "content-state")
        XCTAssertEqual(
            LiveActivityPayloadError.missingContentState(.end).description,
            "an end push needs the final \"content-state\" (a JSON object): APNs requires it with \"end\"")
        XCTAssertEqual(try self.encoded(.end(contentState: json("{}"), timestamp: 5)), #"{"aps":{"timestamp":5,"event":"end","content-state":{}}}"#)
    }

    // MARK: Details

    func testTimestampComesFromNowWhenAbsent() throws {
        let payload = LiveActivityPayload.update(contentState: json("{}"))
        XCTAssertEqual(try self.encoded(payload, now: 1_234), #"{"aps":{"timestamp":1234,"event":"update","content-state":{}}}"#)
        var explicit = payload
        explicit.timestamp = 99
        XCTAssertEqual(try self.encoded(explicit, now: 1_234), #"{"aps":{"timestamp":99,"event":"update","content-state":{}}}"#)
        assertThrows(LiveActivityPayloadError.badDate(field: "timestamp", value: "-1")) { () throws(LiveActivityPayloadError) in
            try payload.encode(now: -1)
        }
    }

    func testRawJSONIsCopiedVerbatimWithoutSurroundingWhitespace() throws {
        let state = " \n\t{ \"b\" : [1, 2.50, \"\\u00e9\"] , \"a\":null }\r\n "
        let payload = LiveActivityPayload.update(contentState: json(state), timestamp: 1)
        XCTAssertEqual(
            try self.encoded(payload),
            #"{"aps":{"timestamp":1,"event":"update","content-state":{ "b" : [1, 2.50, "\u00e9"] , "a":null }}}"#)
    }

    func testStringsAreEscaped() throws {
        let text = "quote \" backslash \\ newline \n tab \t cr \r bell \u{07} del \u{7F} é 🚀 \u{2028}"
        let payload = LiveActivityPayload(
            event: .update, timestamp: 1, contentState: json("{}"),
            alert: LiveActivityAlert(title: .plain(text), body: .localized(key: "k\"", arguments: ["a\nb", "\u{01}"])))
        let output = try self.encoded(payload)
        XCTAssertEqual(
            output,
            #"{"aps":{"timestamp":1,"event":"update","content-state":{},"alert":{"title":"quote \" backslash \\ newline \n tab \t cr \r bell \u0007 del "#
                + "\u{7F} é 🚀 \u{2028}"
                + #"","body":{"loc-key":"k\"","loc-args":["a\nb","\u0001"]}}}}"#)
        // A standard JSON decoder reads back exactly the original strings.
        let object = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any]
        let alert = (object?["aps"] as? [String: Any])?["alert"] as? [String: Any]
        XCTAssertEqual(alert?["title"] as? String, text)
        XCTAssertEqual((alert?["body"] as? [String: Any])?["loc-args"] as? [String], ["a\nb", "\u{01}"])
    }

    func testLocalizedTextWithoutArgumentsOmitsLocArgs() throws {
        let payload = LiveActivityPayload(
            event: .end, timestamp: 1, contentState: json("{}"), alert: LiveActivityAlert(body: .localized(key: "ENDED")))
        XCTAssertEqual(
            try self.encoded(payload),
            #"{"aps":{"timestamp":1,"event":"end","content-state":{},"alert":{"body":{"loc-key":"ENDED"}}}}"#)
    }

    func testRelevanceScoreFormats() throws {
        for (score, text) in [(75.0, "75"), (0.5, "0.5"), (-3.0, "-3"), (1e-5, "1e-05"), (12.25, "12.25"), (1e20, "1e+20")] {
            var payload = LiveActivityPayload.update(contentState: json("{}"), timestamp: 1)
            payload.relevanceScore = score
            XCTAssertEqual(
                try self.encoded(payload),
                #"{"aps":{"timestamp":1,"event":"update","content-state":{},"relevance-score":"# + text + "}}")
        }
    }

    func testEncodeIntoAppendsAndLeavesBufferOnFailure() throws {
        var buffer = ByteBuffer(string: "prefix")
        try LiveActivityPayload.end(contentState: json("{}"), timestamp: 1).encode(now: 0, into: &buffer)
        XCTAssertEqual(String(buffer: buffer), #"prefix{"aps":{"timestamp":1,"event":"end","content-state":{}}}"#)

        var untouched = ByteBuffer(string: "prefix")
        let big = LiveActivityPayload.update(contentState: json(#"{"x":""# + String(repeating: "x", count: 5000) + #""}"#))
        assertThrows { () throws(LiveActivityPayloadError) in try big.encode(now: 1, into: &untouched) }
        XCTAssertEqual(String(buffer: untouched), "prefix")
    }

    // MARK: Size limit

    func testSizeLimitIs4096Bytes() throws {
        let prefix = #"{"aps":{"timestamp":1700000000,"event":"update","content-state":{"s":""#
        let suffix = #""}}}"#
        func payload(size: Int) -> LiveActivityPayload {
            let padding = String(repeating: "x", count: size - prefix.utf8.count - suffix.utf8.count)
            return .update(contentState: json(#"{"s":""# + padding + #""}"#))
        }
        let exact = try payload(size: 4096).encode(now: 1_700_000_000)
        XCTAssertEqual(exact.readableBytes, 4096)
        assertThrows(LiveActivityPayloadError.payloadTooLarge(size: 4097, limit: 4096)) {
            () throws(LiveActivityPayloadError) in try payload(size: 4097).encode(now: 1_700_000_000)
        }
        XCTAssertEqual(LiveActivityPayload.maxSize, 4096)
        XCTAssertEqual(
            LiveActivityPayloadError.payloadTooLarge(size: 4097, limit: 4096).description,
            "payload is 4097 bytes; Live Activity pushes allow at most 4096")
    }

    // MARK: Errors

    private func assertInvalid(
        _ payload: LiveActivityPayload,
        _ expected: LiveActivityPayloadError,
        field: String,
        file: StaticString = #filePath,
        line: UInt = #line
    ) {
        let error = assertThrows(expected, file: file, line: line) { () throws(LiveActivityPayloadError) in
            try payload.encode(now: 1)
        }
        XCTAssertEqual(error?.field, field, file: file, line: line)
        XCTAssertFalse(error?.description.isEmpty ?? true, file: file, line: line)
    }

    private var validStart: LiveActivityPayload {
        .start(
            contentState: json("{}"), attributesType: "T", attributes: json("{}"),
            alert: LiveActivityAlert(title: .plain("t")))
    }

    func testStartNeedsAttributes() {
        var noType = self.validStart
        noType.attributesType = nil
        self.assertInvalid(noType, .startNeedsAttributes, field: "attributes")
        var noAttributes = self.validStart
        noAttributes.attributes = nil
        self.assertInvalid(noAttributes, .startNeedsAttributes, field: "attributes")
        var emptyType = self.validStart
        emptyType.attributesType = ""
        self.assertInvalid(emptyType, .emptyValue(field: "attributes-type"), field: "attributes-type")
    }

    func testStartNeedsAlert() {
        var payload = self.validStart
        payload.alert = nil
        self.assertInvalid(payload, .startNeedsAlert, field: "alert")
        XCTAssertEqual(
            LiveActivityPayloadError.startNeedsAlert.description, "a start push needs an \"alert\" with a title or body")
    }

    func testAttributesOnlyForStart() {
        for event in [LiveActivityEvent.update, .end] {
            var withType = LiveActivityPayload(event: event, contentState: json("{}"))
            withType.attributesType = "T"
            self.assertInvalid(withType, .attributesOnlyForStart(event), field: "attributes")
            var withAttributes = LiveActivityPayload(event: event, contentState: json("{}"))
            withAttributes.attributes = json("{}")
            self.assertInvalid(withAttributes, .attributesOnlyForStart(event), field: "attributes")
        }
        XCTAssertEqual(
            LiveActivityPayloadError.attributesOnlyForStart(.update).description,
            "\"attributes-type\" and \"attributes\" are only for start pushes, not update")
    }

    func testInputPushOnlyForStart() {
        var token = LiveActivityPayload.update(contentState: json("{}"))
        token.inputPushToken = true
        self.assertInvalid(token, .inputPushOnlyForStart(field: "input-push-token", event: .update), field: "input-push-token")
        var channel = LiveActivityPayload.end(contentState: json("{}"))
        channel.inputPushChannel = "c"
        self.assertInvalid(
            channel, .inputPushOnlyForStart(field: "input-push-channel", event: .end), field: "input-push-channel")
        var emptyChannel = self.validStart
        emptyChannel.inputPushChannel = ""
        self.assertInvalid(emptyChannel, .emptyValue(field: "input-push-channel"), field: "input-push-channel")
    }

    func testDismissalDateNotForStart() {
        var payload = self.validStart
        payload.dismissalDate = 10
        self.assertInvalid(payload, .dismissalDateNotForStart, field: "dismissal-date")
    }

    func testContentStateRequiredForStartAndUpdate() {
        var start = self.validStart
        start.contentState = nil
        self.assertInvalid(start, .missingContentState(.start), field: "content-state")
        self.assertInvalid(LiveActivityPayload(event: .update), .missingContentState(.update), field: "content-state")
        XCTAssertEqual(
            LiveActivityPayloadError.missingContentState(.update).description,
            "a update push needs \"content-state\" (a JSON object)")
    }

    func testContentStateMustBeAnObject() {
        for text in ["[]", "1", "\"s\"", "null", "", "{", #"{"a":}"#, "{} {}", #"{"a":1,}"#] {
            let error = assertThrows { () throws(LiveActivityPayloadError) in
                try LiveActivityPayload.update(contentState: json(text)).encode(now: 1)
            }
            guard case .contentStateNotObject(let syntax)? = error else {
                XCTFail("\(text): \(String(describing: error))")
                continue
            }
            XCTAssertEqual(error?.field, "content-state")
            XCTAssertTrue(error!.description.hasPrefix("\"content-state\" is not a JSON object: \(syntax.problem)"), text)
        }
    }

    func testAttributesMustBeAnObject() {
        var payload = self.validStart
        payload.attributes = json("[1]")
        let error = assertThrows { () throws(LiveActivityPayloadError) in try payload.encode(now: 1) }
        XCTAssertEqual(
            error?.description, "\"attributes\" is not a JSON object: top-level value is not an object at byte 0")
    }

    func testAlertNeedsText() {
        var payload = LiveActivityPayload.update(contentState: json("{}"))
        payload.alert = LiveActivityAlert(sound: "default")
        self.assertInvalid(payload, .alertWithoutText, field: "alert")
        payload.alert = LiveActivityAlert(title: .plain(""))
        self.assertInvalid(payload, .emptyValue(field: "alert.title"), field: "alert.title")
        payload.alert = LiveActivityAlert(body: .localized(key: ""))
        self.assertInvalid(payload, .emptyValue(field: "alert.body.loc-key"), field: "alert.body.loc-key")
        payload.alert = LiveActivityAlert(body: .plain("b"), sound: "")
        self.assertInvalid(payload, .emptyValue(field: "alert.sound"), field: "alert.sound")
    }

    func testRelevanceScoreMustBeFinite() {
        for score in [Double.nan, .infinity, -.infinity] {
            var payload = LiveActivityPayload.update(contentState: json("{}"))
            payload.relevanceScore = score
            self.assertInvalid(payload, .badRelevanceScore("\(score)"), field: "relevance-score")
        }
    }

    func testNegativeDatesAreRejected() {
        var stale = LiveActivityPayload.update(contentState: json("{}"))
        stale.staleDate = -5
        self.assertInvalid(stale, .badDate(field: "stale-date", value: "-5"), field: "stale-date")
        self.assertInvalid(
            .end(contentState: json("{}"), dismissalDate: -1), .badDate(field: "dismissal-date", value: "-1"),
            field: "dismissal-date")
        self.assertInvalid(
            .end(contentState: json("{}"), timestamp: -2), .badDate(field: "timestamp", value: "-2"), field: "timestamp")
    }
}
