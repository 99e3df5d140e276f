@testable import APNs
import APNsCore
import JSON
import NIOCore
import NIOPosix
import XCTest

/// A payload that is a slice of a request's shared buffer gets storage of its own before a retry, so that a
/// notification waiting to be resent does not keep its siblings' payloads in memory.
final class RetryPayloadTests: XCTestCase {
    private func push(_ notification: APNsNotification, group: any EventLoopGroup) throws -> APNsPush {
        let client = try APNsClient(
            configuration: TestCredentials.clientConfiguration(port: 1, tokens: try TestCredentials.tokenCache()), group: group)
        return APNsPush(
            notification: notification, acceptedAt: .now(), deadline: .now() + .seconds(5), client: client,
            completion: .closure { _, _ in })
    }

    func testASlicedPayloadIsCopiedOutOfItsSharedBufferAndKeepsItsCheck() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        // Twenty payloads of about 100 bytes in one buffer, as the intake copies a request's payloads.
        let body = #"{"aps":{"alert":"\#(String(repeating: "x", count: 80))"}}"#
        let text = ByteBuffer(string: "[" + Array(repeating: body, count: 20).joined(separator: ",") + "]")
        let ranges = try text.withUnsafeReadableBytes { raw throws -> [JSONObjectRange?] in
            var reader = JSONReader(raw)
            var ranges: [JSONObjectRange?] = []
            try reader.beginArray()
            var first = true
            while try reader.nextElement(&first) { ranges.append(try reader.skipObject()) }
            return ranges
        }
        let payloads = JSONObjectBytes.copying(ranges, of: text)
        let shared = try XCTUnwrap(payloads[3])
        XCTAssertGreaterThanOrEqual(shared.buffer.storageCapacity, 20 * body.utf8.count)

        let notification = APNsNotification(
            deviceToken: String(repeating: "ab", count: 32), payload: shared, pushType: .alert, topic: TestCredentials.bundleID)
        let sliced = try push(notification, group: group)
        sliced.detachPayload()
        XCTAssertEqual(sliced.notification.payload, shared.buffer, "the same bytes")
        XCTAssertLessThan(sliced.notification.payload.storageCapacity, 2 * body.utf8.count, "in storage of their own")
        XCTAssertTrue(sliced.notification.payloadIsCheckedObject, "the scan still travels with the payload")
        XCTAssertEqual(sliced.requestBody, shared.buffer)

        // A payload already in storage of its own stays where it is.
        let own = try push(makeNotification(), group: group)
        let before = own.notification.payload
        own.detachPayload()
        XCTAssertEqual(own.notification.payload, before)
        XCTAssertTrue(own.notification.payload.withUnsafeReadableBytes { a in
            before.withUnsafeReadableBytes { b in a.baseAddress == b.baseAddress }
        }, "no copy of a payload that owns its storage")
    }
}
