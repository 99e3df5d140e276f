import Foundation
@testable import LiveActivity
import XCTest

/// Broadcast channels and their bindings in the registry.
class ChannelRegistryTests: RegistryTestCase {
    private func channel(_ id: String, app: String = "com.example.app", environment: String = "sandbox", policy: Int = 1)
        -> BroadcastChannelRecord
    {
        BroadcastChannelRecord(id: id, app: app, environment: environment, storagePolicy: policy, createdAt: 10)
    }

    func testChannelsAreKeptPerAppAndEnvironment() throws {
        let registry = try self.openRegistry()
        try registry.saveChannel(channel("b+c/=="))
        try registry.saveChannel(channel("a1==", policy: 0))
        try registry.saveChannel(channel("x1==", environment: "production"))
        try registry.saveChannel(channel("y1==", app: "com.example.other"))
        XCTAssertEqual(try registry.channels(app: "com.example.app", environment: "sandbox").map(\.id), ["a1==", "b+c/=="])
        XCTAssertEqual(try registry.channel(id: "a1==")?.storagePolicy, 0)
        XCTAssertEqual(try registry.channels(app: "com.example.app", environment: "production").map(\.id), ["x1=="])
        XCTAssertNil(try registry.channel(id: "nope"))
        assertThrows { () throws(LiveActivityRegistryError) in try registry.saveChannel(self.channel("p==", policy: 2)) }
    }

    func testDeletingAChannelUnbindsIt() throws {
        let registry = try self.openRegistry()
        try registry.saveChannel(channel("c1=="))
        try registry.bind(.activity("a-1"), to: "c1==", at: 20)
        try registry.bind(.stream("game-7"), to: "c1==", at: 20)
        XCTAssertEqual(try registry.boundChannel(of: .activity("a-1")), "c1==")
        XCTAssertEqual(try registry.boundChannel(of: .stream("game-7")), "c1==")
        XCTAssertNil(try registry.boundChannel(of: .activity("game-7")), "activities and streams are apart")
        XCTAssertTrue(try registry.deleteChannel(id: "c1=="))
        XCTAssertFalse(try registry.deleteChannel(id: "c1=="))
        XCTAssertNil(try registry.boundChannel(of: .activity("a-1")))
        XCTAssertNil(try registry.boundChannel(of: .stream("game-7")))
    }

    func testRebindingAndUnbinding() throws {
        let registry = try self.openRegistry()
        try registry.bind(.stream("s"), to: "c1==", at: 1)
        try registry.bind(.stream("s"), to: "c2==", at: 2)
        XCTAssertEqual(try registry.boundChannel(of: .stream("s")), "c2==")
        try registry.bind(.stream("s"), to: nil, at: 3)
        XCTAssertNil(try registry.boundChannel(of: .stream("s")))
    }
}
