import APNsCore
import JSON
import NIOCore
import XCTest

/// A payload that arrives already scanned (the intake's) carries its scan: validation does not repeat it, and
/// replacing the payload drops the claim.
final class CheckedPayloadTests: XCTestCase {
    func testACheckedPayloadKeepsItsScanUntilReplaced() throws {
        var notification = APNsNotification(
            deviceToken: sampleToken, payload: try JSONObjectBytes(validating: buffer(#"{"aps":{}}"#)), pushType: .alert,
            topic: "com.example.app")
        XCTAssertTrue(notification.payloadIsCheckedObject)
        XCTAssertNoThrow(try notification.validate())

        notification.payload = buffer("not json")
        XCTAssertFalse(notification.payloadIsCheckedObject)
        XCTAssertThrowsError(try notification.validate()) { error in
            XCTAssertEqual(error as? APNsValidationError, .payloadNotJSON)
        }
    }

    func testAPlainPayloadIsScannedByValidation() {
        let notification = validNotification(payload: #"{"aps":"#)
        XCTAssertFalse(notification.payloadIsCheckedObject)
        XCTAssertThrowsError(try notification.validate())
    }

    func testTheSizeLimitStillAppliesToACheckedPayload() throws {
        let big = #"{"a":""# + String(repeating: "x", count: 5000) + #""}"#
        let notification = APNsNotification(
            deviceToken: sampleToken, payload: try JSONObjectBytes(validating: buffer(big)), pushType: .alert,
            topic: "com.example.app")
        XCTAssertThrowsError(try notification.validate()) { error in
            XCTAssertEqual(error as? APNsValidationError, .payloadTooLarge)
        }
    }
}
