import APNsCore
import XCTest

final class DispositionTests: XCTestCase {
    private func disposition(_ status: Int, _ reason: APNsReason?) -> APNsDisposition {
        APNsResponse(status: status, reason: reason).disposition
    }

    func testDocumentedReasons() {
        let expected: [APNsReason: APNsDisposition] = [
            .expiredProviderToken: .refreshTokenAndRetry,
            .tooManyRequests: .retryable, .tooManyProviderTokenUpdates: .retryable,
            .internalServerError: .retryable, .serviceUnavailable: .retryable, .shutdown: .retryable,
        ]
        for reason in APNsReason.documented {
            guard let status = reason.documentedStatus else {
                XCTFail("\(reason) has no status")
                continue
            }
            XCTAssertEqual(disposition(status, reason), expected[reason] ?? .permanentFailure, "\(reason)")
        }
    }

    func testNamedPermanentFailures() {
        for (status, reason) in [(400, APNsReason.badDeviceToken), (410, .unregistered), (410, .expiredToken),
                                 (413, .payloadTooLarge), (400, .deviceTokenNotForTopic), (403, .forbidden),
                                 (403, .unrelatedKeyIdInToken), (403, .invalidProviderToken)] {
            XCTAssertEqual(disposition(status, reason), .permanentFailure, "\(reason)")
        }
    }

    func testSuccess() {
        XCTAssertEqual(disposition(200, nil), .success)
    }

    func testUnknownOrMissingReasonGoesByStatus() {
        for reason in [nil, APNsReason.unknown("Whatever")] {
            for status in [500, 502, 503, 504, 599, 429] {
                XCTAssertEqual(disposition(status, reason), .retryable, "\(status) \(String(describing: reason))")
            }
            for status in [400, 401, 403, 404, 405, 410, 413, 418, 201, 302] {
                XCTAssertEqual(disposition(status, reason), .permanentFailure, "\(status) \(String(describing: reason))")
            }
        }
    }

    func testRequiresNewConnection() {
        XCTAssertTrue(APNsResponse(status: 403, reason: .unrelatedKeyIdInToken).requiresNewConnection)
        XCTAssertFalse(APNsResponse(status: 403, reason: .expiredProviderToken).requiresNewConnection)
        XCTAssertFalse(APNsResponse(status: 200).requiresNewConnection)
    }
}
