import APNsCore
import XCTest

final class HeaderEncoderTests: XCTestCase {
    func testMinimalHeaders() {
        let notification = validNotification()
        let headers = APNsHeaderEncoder.headers(for: notification, authority: "api.push.apple.com", authorization: nil)
        XCTAssertEqual(headers, [
            APNsHeaderField(name: ":method", value: "POST"),
            APNsHeaderField(name: ":scheme", value: "https"),
            APNsHeaderField(name: ":authority", value: "api.push.apple.com"),
            APNsHeaderField(name: ":path", value: "/3/device/" + sampleToken),
            APNsHeaderField(name: "apns-push-type", value: "alert"),
            APNsHeaderField(name: "apns-topic", value: "com.example.app"),
        ])
    }

    func testAllHeadersInWireOrder() {
        var notification = validNotification(pushType: .liveactivity)
        notification.priority = .conserve
        notification.expiration = 1_900_000_000
        notification.collapseID = "score"
        notification.apnsID = "123E4567-e89b-12d3-a456-4266554400A0"
        let headers = APNsHeaderEncoder.headers(
            for: notification, authority: "api.sandbox.push.apple.com:2197", authorization: "bearer abc.def.ghi")
        XCTAssertEqual(headers.map(\.name), [
            ":method", ":scheme", ":authority", ":path", "authorization", "apns-push-type", "apns-topic",
            "apns-priority", "apns-expiration", "apns-collapse-id", "apns-id",
        ])
        XCTAssertEqual(headers.map(\.value), [
            "POST", "https", "api.sandbox.push.apple.com:2197", "/3/device/" + sampleToken, "bearer abc.def.ghi",
            "liveactivity", "com.example.app.push-type.liveactivity", "5", "1900000000", "score",
            "123e4567-e89b-12d3-a456-4266554400a0",
        ])
        for header in headers {
            XCTAssertEqual(header.name, header.name.lowercased())
        }
    }

    func testEachOptionalHeaderAlone() {
        var notification = validNotification()
        notification.expiration = 0
        var names = APNsHeaderEncoder.headers(for: notification, authority: "h", authorization: nil).map(\.name)
        XCTAssertEqual(names.suffix(3), ["apns-push-type", "apns-topic", "apns-expiration"])
        let expiration = APNsHeaderEncoder.headers(for: notification, authority: "h", authorization: nil).last
        XCTAssertEqual(expiration?.value, "0")

        notification.expiration = nil
        notification.priority = .immediate
        let priority = APNsHeaderEncoder.headers(for: notification, authority: "h", authorization: nil).last
        XCTAssertEqual(priority, APNsHeaderField(name: "apns-priority", value: "10"))

        notification.priority = nil
        notification.collapseID = "c"
        names = APNsHeaderEncoder.headers(for: notification, authority: "h", authorization: nil).map(\.name)
        XCTAssertFalse(names.contains("apns-priority"))
        XCTAssertEqual(names.last, "apns-collapse-id")
        XCTAssertFalse(names.contains("authorization"))
    }

    func testAuthorizationValue() {
        let notification = validNotification()
        func authorization(_ value: String) -> String? {
            APNsHeaderEncoder.headers(for: notification, authority: "h", authorization: value)
                .first { $0.name == "authorization" }?.value
        }
        XCTAssertEqual(authorization("bearer a.b.c"), "bearer a.b.c")
        XCTAssertEqual(authorization("a.b.c"), "bearer a.b.c")
        XCTAssertEqual(authorization("Bearer a.b.c"), "Bearer a.b.c")
    }

    func testPath() {
        XCTAssertEqual(APNsHeaderEncoder.path(forDeviceToken: "abcd"), "/3/device/abcd")
        let long = String(repeating: "ab", count: 100)
        XCTAssertEqual(APNsHeaderEncoder.path(forDeviceToken: long), "/3/device/" + long)
    }
}
