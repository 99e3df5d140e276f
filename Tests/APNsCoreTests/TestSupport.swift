import APNsCore
import Foundation
import NIOCore
import XCTest

/// The repository root, found from this file's path (Tests/APNsCoreTests/TestSupport.swift).
let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()
    .deletingLastPathComponent()
    .deletingLastPathComponent()

/// A path under the repository's `certs/` folder.
func certificatePath(_ name: String) -> String {
    repositoryRoot.appendingPathComponent("certs").appendingPathComponent(name).path
}

/// A buffer holding the UTF-8 of `text`.
func buffer(_ text: String) -> ByteBuffer {
    ByteBuffer(string: text)
}

/// A buffer holding `bytes`.
func buffer(_ bytes: [UInt8]) -> ByteBuffer {
    ByteBuffer(bytes: bytes)
}

let sampleToken = String(repeating: "0123456789abcdef", count: 4)

/// A notification that passes validation; tests change one field at a time.
func validNotification(
    pushType: APNsPushType = .alert,
    payload: String = #"{"aps":{"alert":"hi"}}"#
) -> APNsNotification {
    APNsNotification(
        deviceToken: sampleToken,
        payload: buffer(payload),
        pushType: pushType,
        topic: pushType.topic(forBundleID: "com.example.app")
    )
}

/// Asserts that `body` throws a validation error of `expected`'s kind and returns it.
@discardableResult
func assertValidationError(
    _ expected: APNsValidationError,
    file: StaticString = #filePath,
    line: UInt = #line,
    _ body: () throws(APNsValidationError) -> Void
) -> APNsValidationError? {
    do {
        try body()
        XCTFail("expected \(expected.reason), got no error", file: file, line: line)
        return nil
    } catch {
        XCTAssertEqual(error, expected, "got \(error)", file: file, line: line)
        return error
    }
}

/// Decodes base64url without padding.
func base64URLDecode(_ text: Substring) -> Data? {
    var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    while base64.count % 4 != 0 {
        base64 += "="
    }
    return Data(base64Encoded: base64)
}
