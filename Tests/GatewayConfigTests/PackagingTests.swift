import ArgumentParser
import Foundation
import LiveActivityService
import XCTest

@testable import apns_gateway

#if canImport(Glibc)
import Glibc
#endif

/// What the packaging relies on: systemd's readiness notification, the example configuration, the unit's
/// settings, and a man page that documents every command and option.
final class PackagingTests: XCTestCase {
    private static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// A datagram socket bound to `address` (a path, or `@name` for the abstract namespace); returns its descriptor.
    private func listen(_ name: String) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        XCTAssertGreaterThanOrEqual(fd, 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(name.utf8)
        let abstract = bytes.first == UInt8(ascii: "@")
        if abstract { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1))
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard rc == 0 else { throw NSError(domain: "bind", code: Int(errno)) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    private func receive(_ fd: Int32) -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(fd, &buffer, buffer.count, 0)
        return count < 0 ? nil : String(decoding: buffer[..<count], as: UTF8.self)
    }

    func testNotifierSendsOneDatagramPerStateToAPathOrAnAbstractSocket() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("notify-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for name in [directory + "/notify", "@apns-gateway-test-\(UUID().uuidString)"] {
            let fd = try listen(name)
            defer { close(fd) }
            let notifier = SystemdNotifier.fromEnvironment(["NOTIFY_SOCKET": name])
            XCTAssertTrue(notifier.isEnabled)
            XCTAssertNil(notifier.notify("READY=1\nSTATUS=serving"))
            XCTAssertNil(notifier.notify("STOPPING=1"))
            XCTAssertEqual(receive(fd), "READY=1\nSTATUS=serving", name)
            XCTAssertEqual(receive(fd), "STOPPING=1", name)
        }
    }

    func testWithoutNotifySocketNothingIsSentAndAMissingSocketIsReported() {
        for environment in [[:], ["NOTIFY_SOCKET": ""]] {
            let notifier = SystemdNotifier.fromEnvironment(environment)
            XCTAssertFalse(notifier.isEnabled)
            XCTAssertNil(notifier.notify("READY=1"))
        }
        let missing = SystemdNotifier(socketPath: "/nonexistent/notify")
        XCTAssertEqual(missing.notify("READY=1")?.hasPrefix("sending to NOTIFY_SOCKET /nonexistent/notify: "), true)
        let long = SystemdNotifier(socketPath: "/" + String(repeating: "x", count: 200))
        XCTAssertEqual(long.notify("READY=1"), "NOTIFY_SOCKET is 201 bytes; at most 107 are possible")
    }

    /// The example configuration is valid (its key given through the environment), with the paths the unit's
    /// directories provide.
    func testTheExampleConfigurationIsValidAndUsesTheUnitsDirectories() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.repository + "/packaging/config.example.json"))
        let pem = try String(contentsOfFile: Self.repository + "/certs/AuthKey_TESTKEY123.p8", encoding: .utf8)
        let config = try GatewayConfig.parse(
            data, name: "config.example.json", baseDirectory: "/etc/apns-gateway", environment: ["APNS_GATEWAY_APP_MAIN_KEY": pem])
        XCTAssertEqual(config.intake.socketPath, "/run/apns-gateway/intake.sock")
        XCTAssertEqual(config.liveActivities?.registryPath, "/var/lib/apns-gateway/live-activities.sqlite")
        XCTAssertEqual(config.liveActivities?.endedRetentionSeconds, LiveActivityServiceConfiguration.defaultEndedRetentionSeconds)
        XCTAssertEqual(config.liveActivities?.priorityBudgetPerHour, LiveActivityServiceConfiguration.defaultPriorityBudgetPerHour)

        let unit = try String(contentsOfFile: Self.repository + "/packaging/apns-gateway.service.in", encoding: .utf8)
        for line in [
            "Type=notify", "RuntimeDirectory=apns-gateway", "StateDirectory=apns-gateway", "NoNewPrivileges=yes",
            "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
            "ExecStart=@bindir@/apns-gateway serve --config @sysconfdir@/apns-gateway/config.json",
        ] {
            XCTAssertTrue(unit.split(separator: "\n").contains(Substring(line)), "the unit has \(line)")
        }
    }

    /// Every command, and every option of each, is in `--help` and in docs/apns-gateway.8.
    func testTheManPageDocumentsEveryCommandAndOption() throws {
        let manual = try String(contentsOfFile: Self.repository + "/docs/apns-gateway.8", encoding: .utf8)
            .replacingOccurrences(of: "\\-", with: "-")
        let overview = GatewayCommand.helpMessage()
        let pattern = try NSRegularExpression(pattern: "--[a-z][a-z-]*")
        let commands = GatewayCommand.configuration.subcommands
        XCTAssertEqual(commands.count, 6)
        for command in commands {
            let name = try XCTUnwrap(command.configuration.commandName)
            XCTAssertTrue(overview.contains(name), "--help lists \(name)")
            XCTAssertTrue(manual.contains(".TP\n.BI \"\(name) ") || manual.contains(".TP\n\\fB\(name)\\fR"), "the man page has an entry for \(name)")
            let help = command.helpMessage()
            let options = pattern.matches(in: help, range: NSRange(help.startIndex..., in: help))
                .map { String(help[Range($0.range, in: help)!]) }
            XCTAssertFalse(options.isEmpty, name)
            for option in Set(options) {
                XCTAssertTrue(manual.contains(option), "the man page documents \(name) \(option)")
            }
        }
    }
}
