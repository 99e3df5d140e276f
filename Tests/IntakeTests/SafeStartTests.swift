import APNs
import Foundation
import Intake
import NIOPosix
import XCTest

final class SafeStartTests: XCTestCase {
    /// A second intake on a live socket is refused; a stale socket file is replaced; a regular file is refused.
    func testRefusesALiveSocketAndReplacesAStaleOne() async throws {
        let harness = try await IntakeHarness.start()
        let apps = [IntakeApp(name: "demo", bundleID: "com.example.app", client: harness.client)]
        do {
            _ = try await IntakeServer.start(configuration: IntakeConfiguration(socketPath: harness.socketPath), apps: apps, group: harness.group)
            XCTFail("a second intake started on a live socket")
        } catch {
            XCTAssertTrue("\(error)".contains("listening"), "\(error)")
        }

        // A stale socket: bound, never listened on, left behind.
        let stalePath = harness.directory + "/stale.sock"
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in stalePath.utf8.enumerated() { raw[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        XCTAssertEqual(bound, 0)
        close(fd)
        XCTAssertTrue(FileManager.default.fileExists(atPath: stalePath))
        let second = try await IntakeServer.start(
            configuration: IntakeConfiguration(socketPath: stalePath, socketMode: 0o600), apps: apps, group: harness.group)
        let attributes = try FileManager.default.attributesOfItem(atPath: stalePath)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        await second.shutdown(grace: .seconds(1))
        XCTAssertFalse(FileManager.default.fileExists(atPath: stalePath))

        let regular = harness.directory + "/file"
        _ = FileManager.default.createFile(atPath: regular, contents: Data("x".utf8))
        do {
            _ = try await IntakeServer.start(configuration: IntakeConfiguration(socketPath: regular), apps: apps, group: harness.group)
            XCTFail("started over a regular file")
        } catch {
            XCTAssertTrue("\(error)".contains("not a socket"), "\(error)")
        }
        try await harness.stop()
    }
}
