import Crypto
import Foundation
import MockAPNs
import XCTest

/// The test-only credentials in `certs/` at the package root.
enum TestCredentials {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // MockAPNsTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // package root
        .appendingPathComponent("certs")

    static func path(_ name: String) -> String {
        directory.appendingPathComponent(name).path
    }

    static let keyID = "TESTKEY123"
    static let teamID = "TEAM123456"
    static let bundleID = "com.example.app"
    static let deviceToken = String(repeating: "ab12", count: 16)

    static func providerKey() throws -> MockProviderKey {
        let pem = try String(contentsOfFile: path("AuthKey_TESTKEY123.pub.pem"), encoding: .utf8)
        return MockProviderKey(keyID: keyID, teamID: teamID, publicKeyPEM: pem)
    }

    static func signingKey() throws -> P256.Signing.PrivateKey {
        let pem = try String(contentsOfFile: path("AuthKey_TESTKEY123.p8"), encoding: .utf8)
        return try P256.Signing.PrivateKey(pemRepresentation: pem)
    }

    static func configuration() throws -> MockAPNsConfiguration {
        MockAPNsConfiguration(
            certificateChainPath: path("localhost.pem"),
            privateKeyPath: path("localhost.key"),
            providerKeys: [try providerKey()],
            bundleIDs: [bundleID]
        )
    }
}

/// Makes ES256 provider tokens the way a client does.
enum TestJWT {
    static func base64URL(_ bytes: some DataProtocol) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func make(
        key: P256.Signing.PrivateKey,
        keyID: String = TestCredentials.keyID,
        teamID: String = TestCredentials.teamID,
        issuedAt: Int64 = Int64(Date().timeIntervalSince1970),
        algorithm: String = "ES256"
    ) throws -> String {
        let header = base64URL(Data(#"{"alg":"\#(algorithm)","kid":"\#(keyID)"}"#.utf8))
        let claims = base64URL(Data(#"{"iss":"\#(teamID)","iat":\#(issuedAt)}"#.utf8))
        let signingInput = header + "." + claims
        let signature = try key.signature(for: Data(signingInput.utf8))
        return signingInput + "." + base64URL(signature.rawRepresentation)
    }

    static func valid() throws -> String {
        try make(key: TestCredentials.signingKey())
    }
}

/// Runs a command-line tool to completion, its output captured in files (no pipe can fill up).
struct ToolRun {
    var status: Int32
    var stdout: String
    var stderr: String

    static func run(_ executable: String, _ arguments: [String]) throws -> ToolRun {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("mockapns-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let outURL = directory.appendingPathComponent("out")
        let errURL = directory.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL)
        let err = try FileHandle(forWritingTo: errURL)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try out.close()
        try err.close()
        return ToolRun(
            status: process.terminationStatus,
            stdout: redacted((try? String(contentsOf: outURL, encoding: .utf8)) ?? ""),
            stderr: redacted((try? String(contentsOf: errURL, encoding: .utf8)) ?? "")
        )
    }

    /// Tools like `nghttp -v` echo request headers: keep provider tokens out of test logs.
    static func redacted(_ text: String) -> String {
        text.replacing(#/eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*/#, with: "<jwt>")
    }
}

/// One HTTP response as curl reported it.
struct CurlResponse {
    var status: Int
    var headers: [String: String]
    var body: String
    var seconds: Double

    /// The `reason` in a JSON error body.
    var reason: String? {
        guard let data = body.data(using: .utf8),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return nil }
        return object["reason"] as? String
    }

    var timestamp: Int64? {
        guard let data = body.data(using: .utf8),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return nil }
        return (object["timestamp"] as? NSNumber)?.int64Value
    }
}

/// A push request sent with curl (`--http2` over TLS, trusting the test CA).
struct CurlPush {
    var path = "/3/device/\(TestCredentials.deviceToken)"
    var method = "POST"
    var headers: [(String, String)] = [("apns-topic", TestCredentials.bundleID)]
    var body: String? = #"{"aps":{"alert":"hello"}}"#
    var extraArguments: [String] = []

    static let curl = "/usr/bin/curl"
    static let marker = "\n--curl-status--"

    func arguments(port: Int) -> [String] {
        var arguments = [
            "--silent", "--show-error", "--http2", "--max-time", "10",
            "--cacert", TestCredentials.path("test-ca.pem"),
            "--include", "--request", self.method,
            "--write-out", Self.marker + "%{http_code} %{time_total}\\n",
        ]
        for (name, value) in self.headers {
            arguments += ["--header", "\(name): \(value)"]
        }
        if let body = self.body {
            arguments += ["--data-binary", body]
        }
        arguments += self.extraArguments
        arguments.append("https://127.0.0.1:\(port)\(self.path)")
        return arguments
    }

    /// Sends the push; fails the test when curl fails.
    func send(to server: MockAPNsServer, file: StaticString = #filePath, line: UInt = #line) throws -> CurlResponse {
        let responses = try self.send(to: server, times: 1, file: file, line: line)
        guard let response = responses.first else { throw CurlFailure(status: -1, stderr: "no response") }
        return response
    }

    /// Sends the push `times` times, one after the other on one connection.
    func send(
        to server: MockAPNsServer,
        times: Int,
        file: StaticString = #filePath,
        line: UInt = #line
    ) throws -> [CurlResponse] {
        var arguments = self.arguments(port: server.port)
        if let url = arguments.last {
            arguments += Array(repeating: url, count: times - 1)
        }
        let run = try ToolRun.run(Self.curl, arguments)
        guard run.status == 0 else {
            XCTFail("curl exited with \(run.status): \(run.stderr)", file: file, line: line)
            throw CurlFailure(status: run.status, stderr: run.stderr)
        }
        return Self.parse(run.stdout)
    }

    /// Parses `--include` output, each response followed by the write-out marker line.
    static func parse(_ output: String) -> [CurlResponse] {
        var responses: [CurlResponse] = []
        var rest = Substring(output)
        while let markerRange = rest.range(of: marker) {
            let response = rest[..<markerRange.lowerBound]
            let trailerEnd = rest[markerRange.upperBound...].firstIndex(of: "\n") ?? rest.endIndex
            let trailer = rest[markerRange.upperBound..<trailerEnd].split(separator: " ")
            rest = trailerEnd < rest.endIndex ? rest[rest.index(after: trailerEnd)...] : ""
            var headers: [String: String] = [:]
            var body = ""
            if let split = response.range(of: "\r\n\r\n") {
                for line in response[..<split.lowerBound].split(separator: "\r\n").dropFirst() {
                    if let colon = line.firstIndex(of: ":") {
                        let name = line[..<colon].lowercased()
                        headers[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                    }
                }
                body = String(response[split.upperBound...])
            }
            responses.append(
                CurlResponse(
                    status: trailer.first.flatMap { Int($0) } ?? 0,
                    headers: headers,
                    body: body,
                    seconds: trailer.dropFirst().first.flatMap { Double($0) } ?? 0
                )
            )
        }
        return responses
    }
}

struct CurlFailure: Error {
    var status: Int32
    var stderr: String
}

extension XCTestCase {
    /// Starts a mock on 127.0.0.1, port 0, shut down when the test ends.
    func startMock(
        _ adjust: (inout MockAPNsConfiguration) throws -> Void = { _ in }
    ) async throws -> MockAPNsServer {
        var configuration = try TestCredentials.configuration()
        try adjust(&configuration)
        let server = try await MockAPNsServer.start(configuration: configuration)
        self.addTeardownBlock {
            try await server.shutdown()
        }
        return server
    }
}
