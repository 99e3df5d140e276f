import APNsCore
import XCTest

final class PushTypeTests: XCTestCase {
    func testTopicSuffixes() {
        let expected: [APNsPushType: String] = [
            .alert: "", .background: "", .mdm: "",
            .liveactivity: ".push-type.liveactivity", .voip: ".voip", .complication: ".complication",
            .fileprovider: ".pushkit.fileprovider", .location: ".location-query", .pushtotalk: ".voip-ptt",
            .widgets: ".push-type.widgets", .controls: ".push-type.controls",
        ]
        XCTAssertEqual(Set(APNsPushType.allCases), Set(expected.keys))
        for type in APNsPushType.allCases {
            XCTAssertEqual(type.topicSuffix, expected[type], "\(type)")
        }
    }

    func testRawValuesAreHeaderValues() {
        XCTAssertEqual(
            APNsPushType.allCases.map(\.rawValue),
            ["alert", "background", "complication", "controls", "fileprovider", "liveactivity", "location", "mdm",
             "pushtotalk", "voip", "widgets"])
    }

    func testMaxPayloadSize() {
        for type in APNsPushType.allCases {
            XCTAssertEqual(type.maxPayloadSize, type == .voip ? 5120 : 4096, "\(type)")
        }
    }

    func testTopicForBundleID() {
        XCTAssertEqual(APNsPushType.alert.topic(forBundleID: "com.example.app"), "com.example.app")
        XCTAssertEqual(
            APNsPushType.liveactivity.topic(forBundleID: "com.example.app"), "com.example.app.push-type.liveactivity")
        XCTAssertEqual(APNsPushType.voip.topic(forBundleID: "com.example.app"), "com.example.app.voip")
        XCTAssertEqual(APNsPushType.pushtotalk.topic(forBundleID: "com.example.app"), "com.example.app.voip-ptt")
        // Already suffixed: unchanged.
        XCTAssertEqual(APNsPushType.voip.topic(forBundleID: "com.example.app.voip"), "com.example.app.voip")
    }

    func testPriorityValidating() throws {
        XCTAssertEqual(try APNsPriority(validating: 10), .immediate)
        XCTAssertEqual(try APNsPriority(validating: 5), .conserve)
        XCTAssertEqual(try APNsPriority(validating: 1), .low)
        for bad in [0, 2, 4, 6, 9, 11, -10, 100] {
            let error = assertValidationError(.badPriority) { () throws(APNsValidationError) in
                _ = try APNsPriority(validating: bad)
            }
            XCTAssertEqual(error?.field, "priority")
            XCTAssertTrue(error?.message.contains("\(bad)") ?? false)
        }
        XCTAssertEqual(APNsPriority.immediate.headerValue, "10")
        XCTAssertEqual(APNsPriority.conserve.headerValue, "5")
        XCTAssertEqual(APNsPriority.low.headerValue, "1")
    }
}
