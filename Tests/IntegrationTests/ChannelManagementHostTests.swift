import APNsCore
import XCTest

@testable import APNs

/// Where channel management requests go, and the local checks of a broadcast's channel ID.
final class ChannelManagementHostTests: XCTestCase {
    func testManagementHostsPerEnvironment() {
        XCTAssertTrue(APNsClientConfiguration.Environment.production.management == ("api-manage-broadcast.push.apple.com", 2196))
        XCTAssertTrue(APNsClientConfiguration.Environment.sandbox.management == ("api-manage-broadcast.sandbox.push.apple.com", 2195))
        XCTAssertTrue(
            APNsClientConfiguration.Environment.custom(host: "127.0.0.1", port: 8443).management == ("127.0.0.1", 8443),
            "a custom endpoint (the mock) serves both APIs")
    }

    func testChannelIDChecks() {
        XCTAssertNil(APNsBroadcast.channelIDProblem("dHN0LXNyY2gtY2hubA=="))
        XCTAssertNil(APNsBroadcast.channelIDProblem("ab+/"))
        XCTAssertEqual(APNsBroadcast.channelIDProblem(""), .missingChannelId)
        for bad in ["abc", "ab=c", "a===", "not base64!", String(repeating: "A", count: 132)] {
            XCTAssertEqual(APNsBroadcast.channelIDProblem(bad), .badChannelId, bad)
        }
    }
}
