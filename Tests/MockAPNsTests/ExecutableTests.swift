import Foundation
import MockAPNs
import XCTest

/// The `apns-mock` command: its one start-up line, a push, and a clean stop on SIGTERM.
final class ExecutableTests: XCTestCase {
    /// `swift test` builds the executable beside the test bundle.
    private var executable: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("apns-mock")
    }

    func testServesUntilSIGTERM() throws {
        let process = Process()
        process.executableURL = self.executable
        process.arguments = [
            "--port", "0",
            "--cert", TestCredentials.path("localhost.pem"),
            "--key", TestCredentials.path("localhost.key"),
            "--provider-key", "\(TestCredentials.keyID):\(TestCredentials.teamID):\(TestCredentials.path("AuthKey_TESTKEY123.pub.pem"))",
            "--bundle-id", TestCredentials.bundleID,
            "--unregistered", "\(TestCredentials.deviceToken):1700000000000",
            "--status-every", "2:503",
        ]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()

        // Read up to the end of the first line; EOF (the process died) ends the loop too.
        var firstLine = Data()
        while !firstLine.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            firstLine.append(chunk)
        }
        let line = String(decoding: firstLine, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let prefix = "apns-mock listening on 127.0.0.1:"
        guard line.hasPrefix(prefix), let port = Int(line.dropFirst(prefix.count)) else {
            process.terminate()
            process.waitUntilExit()
            return XCTFail("unexpected first line: \(line)")
        }

        var push = CurlPush()
        push.headers.append(("authorization", "bearer \(try TestJWT.valid())"))
        let run = try ToolRun.run(CurlPush.curl, push.arguments(port: port) + [push.arguments(port: port).last ?? ""])
        XCTAssertEqual(run.status, 0, run.stderr)
        let responses = CurlPush.parse(run.stdout)
        XCTAssertEqual(responses.map(\.status), [410, 503])
        XCTAssertEqual(responses.first?.timestamp, 1_700_000_000_000)

        process.terminate()  // SIGTERM
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .exit)
        XCTAssertEqual(process.terminationStatus, 0)
        let rest = output.fileHandleForReading.readDataToEndOfFile()
        XCTAssertTrue(rest.isEmpty, "exactly one line on standard output")
        let log = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertTrue(log.contains("shutting down"), log)
    }
}
