import APNs
import Foundation
import Intake
import NIOPosix
import XCTest

final class SafeStartTests: XCTestCase {
    /// A second intake on a live socket is refused; a stale socket file is replaced; a regular file is refused.
    func testRefusesALiveSocketAndReplacesAStaleOne() async throws {
        let harness = try await IntakeHarness.start()
        let apps = [APNsApp(name: "demo", bundleID: "com.example.app", client: harness.client)]
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

    /// The socket's group comes from the configuration, so that the members of one group may connect (mode
    /// 0660). Only root may give a file to any group: without it the start fails and says why.
    func testSocketGroupComesFromTheConfiguration() async throws {
        let harness = try await IntakeHarness.start()
        let apps = [APNsApp(name: "demo", bundleID: "com.example.app", client: harness.client)]
        let path = harness.directory + "/grouped.sock"
        let group: UInt32 = 1  // "daemon" on Debian; not the test's own group
        XCTAssertNotEqual(getegid(), group)
        let configuration = IntakeConfiguration(socketPath: path, socketMode: 0o660, socketGroup: group)
        if geteuid() == 0 {
            let intake = try await IntakeServer.start(configuration: configuration, apps: apps, group: harness.group)
            var info = stat()
            XCTAssertEqual(stat(path, &info), 0)
            XCTAssertEqual(info.st_gid, group)
            XCTAssertEqual(info.st_uid, geteuid())
            XCTAssertEqual(info.st_mode & 0o777, 0o660)
            await intake.shutdown(grace: .seconds(1))
        } else {
            do {
                let intake = try await IntakeServer.start(configuration: configuration, apps: apps, group: harness.group)
                await intake.shutdown(grace: .seconds(1))
                XCTFail("gave the socket to group \(group) without the right to")
            } catch {
                XCTAssertTrue("\(error)".contains("cannot give \(path) to user (unchanged) and group 1"), "\(error)")
                XCTAssertFalse(FileManager.default.fileExists(atPath: path))
            }
        }
        try await harness.stop()
    }
}
