import APNsGatewayClient
import Foundation
import XCTest

@testable import Intake

final class RequestScannerTests: XCTestCase {
    private func scan(_ line: String, maxBatchSize: Int = 100) -> ScannedRequest {
        Array(line.utf8).withUnsafeBytes { RequestScanner.scan($0, maxBatchSize: maxBatchSize) }
    }

    func testFieldsEscapesAndPayloadRange() {
        let line = #"{"op":"send","x":[1,{"y":null}],"id":"r\"1","notifications":[{"token":"ab\u0063d","payload":{ "aps" : {"alert":"\u00e9\n"} },"priority":5,"expiration":0,"topic":"t","pushType":"voip","collapseId":"c","apnsId":"u","app":"a"}]}"#
        guard case .send(let id, let items) = scan(line) else { return XCTFail("not a send") }
        let bytes = Array(line.utf8)
        XCTAssertEqual(String(decoding: bytes[id], as: UTF8.self), #""r\"1""#)
        XCTAssertEqual(items.count, 1)
        let item = items[0]
        XCTAssertNil(item.problem)
        XCTAssertEqual(item.token?.string, "abcd")
        XCTAssertEqual(item.payload.map { String(decoding: bytes[$0.range], as: UTF8.self) }, #"{ "aps" : {"alert":"\u00e9\n"} }"#)
        XCTAssertEqual(item.priority, 5)
        XCTAssertEqual(item.expiration, 0)
        XCTAssertEqual(item.pushType, "voip")
        XCTAssertEqual(item.app, "a")
    }

    /// An item's optional strings are shared between copies until one of them changes: a change to a copy never
    /// shows in the item it was copied from, and clearing a field an item never had leaves it as it was.
    func testItemCopiesDoNotShareChanges() {
        var item = ScannedItem(topic: "t", collapseID: "c")
        var copy = item
        copy.topic = "other"
        copy.apnsID = "u"
        XCTAssertEqual(item.topic, "t")
        XCTAssertNil(item.apnsID)
        XCTAssertEqual(copy.topic, "other")
        XCTAssertEqual(copy.collapseID, "c")
        XCTAssertEqual(copy.apnsID, "u")
        item.collapseID = nil
        XCTAssertNil(item.collapseID)
        XCTAssertEqual(copy.collapseID, "c")

        var plain = ScannedItem(priority: 10)
        plain.problem = nil
        XCTAssertNil(plain.problem)
        let before = plain
        plain.environment = "sandbox"
        XCTAssertNil(before.environment)
        XCTAssertEqual(plain.environment, "sandbox")
        XCTAssertEqual(plain.priority, 10)
    }

    /// A token of 64 lowercase hex digits is read as bytes; one spelt with escapes, or in uppercase, as the string
    /// it decodes to: the same token either way where the text is the same.
    func testTokensAreReadAsBytesOrAsTheirString() {
        let plain = String(repeating: "0a", count: 32)
        let escaped = #"0a"# + String(repeating: "0a", count: 31)
        let upper = String(repeating: "0A", count: 32)
        let line = #"{"id":1,"op":"send","notifications":[{"token":"\#(plain)","payload":{}},{"token":"\#(escaped)","payload":{}},{"token":"\#(upper)","payload":{}},{"token":7,"payload":{}}]}"#
        guard case .send(_, let items) = scan(line) else { return XCTFail("not a send") }
        XCTAssertEqual(items.count, 4)
        XCTAssertEqual(items[0].token?.isPacked, true)
        XCTAssertEqual(items[0].token?.string, plain)
        XCTAssertEqual(items[1].token?.string, plain)
        XCTAssertEqual(items[1].token, items[0].token)
        XCTAssertEqual(items[2].token?.isPacked, false)
        XCTAssertEqual(items[2].token?.string, upper)
        XCTAssertNil(items[3].token)
        XCTAssertEqual(items[3].problem, #""token" must be a string, not number"#)
    }

    func testIllTypedItemFieldsFailTheItemOnly() {
        let line = #"{"id":1,"op":"send","notifications":[{"token":"ab","payload":{},"priority":1.5},{"token":"ab","payload":{}},"x"]}"#
        guard case .send(_, let items) = scan(line) else { return XCTFail("not a send") }
        XCTAssertEqual(items.map { $0.problem != nil }, [true, false, true])
    }

    func testSurrogatePairsAndSyntaxErrors() {
        guard case .send(_, let items) = scan(#"{"id":1,"op":"send","notifications":[{"token":"\ud83d\ude00","payload":{}}]}"#)
        else { return XCTFail("not a send") }
        XCTAssertEqual(items.first?.token?.string, "😀")
        for bad in [#"{"id":1,"op":"ping",}"#, #"{"id":01,"op":"ping"}"#, #"{"id":1,"op":"ping"}}"#, #"{"id":tru,"op":"ping"}"#, "{\"id\":\"a\u{01}\"}"] {
            guard case .failure(nil, .invalidJSON, _) = scan(bad) else { return XCTFail("accepted \(bad)") }
        }
    }

    /// What JSON forbids in strings makes the line invalid JSON, in keys, values and payloads alike: a lone
    /// surrogate escape, and bytes that are not UTF-8.
    func testUnpairedSurrogatesAndInvalidUTF8AreInvalidJSON() {
        let lines: [[UInt8]] = [
            Array(#"{"id":"\ud83d","op":"ping"}"#.utf8),
            Array(#"{"id":1,"op":"send","notifications":[{"token":"ab","payload":{"a":"\ude00"}}]}"#.utf8),
            Array(#"{"id":1,"op":"pi"#.utf8) + [0xFF] + Array(#"ng"}"#.utf8),
            Array(#"{"id":1,"op":"send","notifications":[{"token":"ab","payload":{"a":""#.utf8) + [0xC0, 0x80] + Array(#""}}]}"#.utf8),
        ]
        for line in lines {
            let request = line.withUnsafeBytes { RequestScanner.scan($0, maxBatchSize: 10) }
            guard case .failure(_, .invalidJSON, let message) = request else {
                return XCTFail("accepted \(String(decoding: line, as: UTF8.self)): \(request)")
            }
            XCTAssertTrue(message.hasPrefix("invalid JSON at byte "), message)
        }
    }

    /// The payload reaches APNs as the exact bytes the client wrote: spacing, escapes and key order intact.
    func testPayloadIsForwardedByteForByte() async throws {
        let harness = try await IntakeHarness.start(record: true)
        let client = try await GatewayClient.connect(path: harness.socketPath)
        let payload = #"{ "aps" : { "alert" : "caf\u00e9 \"quoted\"" , "badge":1.0e0 },"z":[ ],"a":{}}"#
        let results = try await client.send([GatewayNotification(token: deviceToken(3), payload: payload)])
        XCTAssertEqual(results.first?.status, 200)
        XCTAssertEqual(harness.mock.received.first.map { String(decoding: $0.body, as: UTF8.self) }, payload)
        XCTAssertEqual(harness.mock.received.first?.headers["apns-topic"], "com.example.app")
        XCTAssertEqual(harness.mock.received.first?.headers["apns-push-type"], "alert")

        let live = try await client.send([
            GatewayNotification(
                token: deviceToken(4), payload: #"{"aps":{"timestamp":1,"event":"update","content-state":{}}}"#, priority: 10,
                pushType: "liveactivity")
        ])
        XCTAssertEqual(live.first?.status, 200)
        XCTAssertEqual(harness.mock.received.last?.headers["apns-topic"], "com.example.app.push-type.liveactivity")
        await client.close()
        try await harness.stop()
    }
}
