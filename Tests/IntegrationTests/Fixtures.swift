import APNs
import APNsCore
import Foundation
import GatewayTestSupport
import HTTP2Engine
import MockAPNs
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

enum Repository {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }
}

enum TestCredentials {
    static let keyID = "TESTKEY123"
    static let teamID = "TEAM123456"
    static let bundleID = "com.example.app"

    static func mockConfiguration() throws -> MockAPNsConfiguration {
        MockAPNsConfiguration(
            certificateChainPath: Repository.path("certs/localhost.pem"),
            privateKeyPath: Repository.path("certs/localhost.key"),
            providerKeys: [MockProviderKey(
                keyID: keyID, teamID: teamID,
                publicKeyPEM: try String(contentsOfFile: Repository.path("certs/AuthKey_TESTKEY123.pub.pem"), encoding: .utf8)
            )],
            bundleIDs: [bundleID]
        )
    }

    static func tokenCache(clock: @escaping @Sendable () -> Int64 = APNsProviderTokenCache.systemClock) throws -> APNsProviderTokenCache {
        try APNsProviderTokenCache(
            key: APNsSigningKey(contentsOfFile: Repository.path("certs/AuthKey_TESTKEY123.p8")),
            keyID: keyID, teamID: teamID, clock: clock
        )
    }

    static func clientConfiguration(
        port: Int, connections: Int = 1, caFile: String = Repository.path("certs/test-ca.pem"),
        tokens: APNsProviderTokenCache, timeout: TimeAmount = .seconds(60 * Sanitizer.deadlineFactor)
    ) -> APNsClientConfiguration {
        APNsClientConfiguration(
            environment: .custom(host: "127.0.0.1", port: port, serverName: "localhost", caFile: caFile),
            authentication: .token(tokens),
            connectionCount: connections,
            requestTimeout: timeout,
            retry: APNsRetryPolicy(maxAttempts: 4, initialBackoff: .milliseconds(5), maxBackoff: .milliseconds(50)),
            // The in-process mock answers PING on the event loop that validates requests: in a debug build on a
            // busy machine it can fall silent for seconds under a large batch, which stall detection would take
            // for a dead server. Tests of stalls set their own.
            stallTimeout: .seconds(30 * Sanitizer.deadlineFactor),
            stallPingTimeout: .seconds(10)
        )
    }
}

/// A notification for the mock's bundle id, with a fresh apns-id.
func makeNotification(token: String = String(repeating: "ab", count: 32), payload: String = #"{"aps":{"alert":"hi"}}"#) -> APNsNotification {
    APNsNotification(
        deviceToken: token,
        payload: ByteBuffer(string: payload),
        pushType: .alert,
        topic: TestCredentials.bundleID,
        apnsID: UUID().uuidString.lowercased()
    )
}

/// A hex device token unique to `index`.
func deviceToken(_ index: Int) -> String {
    String(repeating: "0", count: 56) + String(format: "%08x", index)
}

/// A clock whose value tests can set.
final class TestClock: Sendable {
    private let now = NIOLockedValueBox<Int64>(Int64(Date().timeIntervalSince1970))
    var value: Int64 {
        get { now.withLockedValue { $0 } }
        set { now.withLockedValue { $0 = newValue } }
    }
    var read: @Sendable () -> Int64 { { self.value } }
}
