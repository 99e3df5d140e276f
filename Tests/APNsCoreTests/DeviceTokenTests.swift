import APNsCore
import NIOCore
import XCTest

/// A device token of 64 lowercase hex digits is kept as its 32 bytes; every other token as the string given. Either
/// way the token that reaches the `:path` is the caller's, byte for byte.
final class DeviceTokenTests: XCTestCase {
    private func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }

    private func written(_ token: APNsDeviceToken) -> String {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: token.utf8Count, alignment: 1)
        defer { buffer.deallocate() }
        token.writeHex(into: buffer)
        return String(decoding: buffer, as: UTF8.self)
    }

    func testLowercaseHexOf64DigitsIsPackedAndComesBackTheSame() {
        var generator = SystemRandomNumberGenerator()
        var samples: [[UInt8]] = [Array(repeating: 0, count: 32), Array(repeating: 0xFF, count: 32), Array(0..<32)]
        for _ in 0..<200 { samples.append((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }) }
        for bytes in samples {
            let text = hex(bytes)
            let token = APNsDeviceToken(text)
            XCTAssertTrue(token.isPacked, text)
            XCTAssertEqual(token.string, text)
            XCTAssertEqual(token.utf8Count, 64)
            XCTAssertEqual(written(token), text)
            XCTAssertNoThrow(try token.validate())
            let fast = text.utf8.withContiguousStorageIfAvailable { APNsDeviceToken(lowercaseHex: UnsafeRawBufferPointer($0)) }
            XCTAssertEqual(fast ?? nil, token)
        }
    }

    /// Every byte that is not a lowercase hex digit, at every one of the 64 places, keeps the token a string (the
    /// decoder takes sixteen digits at a time, so each place of each step is covered).
    func testAnyOtherByteAtAnyPlaceKeepsTheTokenAsGiven() {
        let base = Array(String(repeating: "0123456789abcdef", count: 4).utf8)
        let others: [UInt8] = [0x00, 0x1F, 0x2F, 0x3A, 0x40, 0x41, 0x46, 0x47, 0x60, 0x67, 0x7A, 0x7F, 0x80, 0xB0, 0xE6, 0xFF]
        for place in 0..<64 {
            for other in others {
                var bytes = base
                bytes[place] = other
                let packed = bytes.withUnsafeBytes { APNsDeviceToken(lowercaseHex: $0) }
                XCTAssertNil(packed, "byte \(other) at \(place) was taken as a hex digit")
            }
        }
        XCTAssertNotNil(base.withUnsafeBytes { APNsDeviceToken(lowercaseHex: $0) })
    }

    func testOtherTokensStayStringsAndAreValidatedAsBefore() throws {
        let upper = String(repeating: "AB", count: 32)
        let short = String(repeating: "ab", count: 8)
        let long = String(repeating: "ab", count: 50)
        for text in [upper, short, long] {
            let token = APNsDeviceToken(text)
            XCTAssertFalse(token.isPacked, text)
            XCTAssertEqual(token.string, text)
            XCTAssertEqual(written(token), text)
            XCTAssertNoThrow(try token.validate(), text)
        }
        for bad in [String(repeating: "ag", count: 32), "", "abc", String(repeating: "é", count: 32)] {
            let token = APNsDeviceToken(bad)
            XCTAssertFalse(token.isPacked)
            XCTAssertEqual(token.string, bad)
            XCTAssertThrowsError(try token.validate()) { error in
                XCTAssertEqual((error as? APNsValidationError)?.reason, "BadDeviceToken")
            }
        }
        // Uppercase digits are sent as given, not lowercased.
        XCTAssertNotEqual(APNsDeviceToken(upper), APNsDeviceToken(upper.lowercased()))
    }

    func testANotificationsTokenIsTheStringItWasMadeWith() {
        let text = String(repeating: "0f", count: 32)
        var notification = APNsNotification(
            deviceToken: text, payload: ByteBuffer(string: "{}"), pushType: .alert, topic: "com.example.app")
        XCTAssertTrue(notification.token.isPacked)
        XCTAssertEqual(notification.deviceToken, text)
        XCTAssertEqual(
            notification,
            APNsNotification(token: APNsDeviceToken(text), payload: ByteBuffer(string: "{}"), pushType: .alert, topic: "com.example.app"))
        notification.deviceToken = "ABCD"
        XCTAssertFalse(notification.token.isPacked)
        XCTAssertEqual(notification.deviceToken, "ABCD")
    }
}
