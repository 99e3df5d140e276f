import NIOCore
import NIOHTTP2

/// The immutable settings and shared state every connection of one server uses.
final class MockServerContext: Sendable {
    let state: MockServerState
    let validator: RequestValidator
    /// Broadcast pushes and channel management.
    let broadcasts: BroadcastValidator
    let initialMaxConcurrentStreams: Int
    let authenticatedMaxConcurrentStreams: Int
    let recordRequests: Bool
    let recordBodies: Bool
    let validatesHeaderBlocks: Bool
    /// The ``MockAPNsConfiguration/recordFilePath`` file, open for appending.
    let recordFile: MockRecordFile?

    /// The most body bytes kept per request: enough to check any payload and tell a too-large one.
    static let bodyCap = 8192
    /// The connection-level receive window the mock grants (it consumes data at once).
    static let connectionWindow = 1 << 24
    /// The stream-level receive window (the HTTP/2 default; the mock doesn't change it).
    static let streamWindow = 65535

    init(configuration: MockAPNsConfiguration, verifier: ProviderTokenVerifier?, recordFile: MockRecordFile? = nil) {
        self.state = MockServerState(faults: configuration.faults, maxRecords: configuration.maxRecordedRequests)
        let validator = RequestValidator(configuration: configuration, verifier: verifier)
        self.validator = validator
        self.broadcasts = BroadcastValidator(
            tokens: validator, bundleIDs: Set(configuration.bundleIDs),
            disabledBundleIDs: configuration.broadcastDisabledBundleIDs, maxChannels: configuration.maxChannelsPerApp,
            store: MockChannelStore())
        self.initialMaxConcurrentStreams = max(0, configuration.initialMaxConcurrentStreams)
        self.authenticatedMaxConcurrentStreams = max(1, configuration.authenticatedMaxConcurrentStreams)
        self.recordRequests = configuration.recordRequests
        self.recordBodies = configuration.recordBodies
        self.validatesHeaderBlocks = configuration.validatesHeaderBlocks
        self.recordFile = recordFile
    }

    /// How NIOHTTP2 is set up for every connection.
    var http2Configuration: NIOHTTP2Handler.ConnectionConfiguration {
        var configuration = NIOHTTP2Handler.ConnectionConfiguration()
        configuration.initialSettings = self.initialSettings
        configuration.headerBlockValidation = self.validatesHeaderBlocks ? .enabled : .disabled
        return configuration
    }

    /// The server's first SETTINGS frame, like APNs: one stream until authenticated, HPACK table
    /// 4096, header lists up to 8000 bytes.
    var initialSettings: HTTP2Settings {
        [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: self.initialMaxConcurrentStreams),
            HTTP2Setting(parameter: .headerTableSize, value: 4096),
            HTTP2Setting(parameter: .maxHeaderListSize, value: 8000),
        ]
    }
}
