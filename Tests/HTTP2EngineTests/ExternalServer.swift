import Foundation
import XCTest

/// Paths inside the repository.
enum Repository {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }
}

/// Finds a free TCP port on loopback by binding port 0.
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw POSIXError(.EMFILE) }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw POSIXError(.EADDRINUSE) }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// A server process started for a test (nghttpd), stopped by `stop()`.
final class ExternalServer {
    let process = Process()
    let port: Int

    /// Starts nghttpd over TLS with the test certificates, and waits until it accepts connections.
    static func nghttpd(extraArguments: [String] = []) throws -> ExternalServer {
        let port = try freePort()
        let server = ExternalServer(port: port)
        server.process.executableURL = URL(fileURLWithPath: "/usr/sbin/nghttpd")
        server.process.arguments = ["-a", "127.0.0.1", "--echo-upload"] + extraArguments + [
            "\(port)", Repository.path("certs/localhost.key"), Repository.path("certs/localhost.pem"),
        ]
        server.process.standardOutput = FileHandle.nullDevice
        server.process.standardError = FileHandle.nullDevice
        try server.process.run()
        try server.waitUntilListening()
        return server
    }

    private init(port: Int) {
        self.port = port
    }

    private func waitUntilListening() throws {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            guard process.isRunning else { throw POSIXError(.ECONNREFUSED) }
            if canConnect() { return }
            usleep(20_000)  // polling for readiness, not ordering a race
        }
        throw POSIXError(.ETIMEDOUT)
    }

    private func canConnect() -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    deinit { stop() }
}
