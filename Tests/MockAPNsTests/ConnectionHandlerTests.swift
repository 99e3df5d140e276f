import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP2
import XCTest

@testable import MockAPNs

/// The connection handler behind NIOHTTP2 in an `EmbeddedChannel`, fed hand-made client frames, so
/// that a client breaking the stream limit can be played (real clients won't).
final class ConnectionHandlerTests: XCTestCase {
    private var server: MockServerContext!
    private var channel: EmbeddedChannel!
    private var client = ClientFrames()

    override func setUpWithError() throws {
        let configuration = try TestCredentials.configuration()
        let verifier = try ProviderTokenVerifier(keys: configuration.providerKeys)
        self.server = MockServerContext(configuration: configuration, verifier: verifier)
        self.channel = EmbeddedChannel()
        let gate = TransportGateHandler()
        try self.channel.pipeline.syncOperations.addHandlers([
            gate,
            NIOHTTP2Handler(mode: .server, connectionConfiguration: self.server.http2Configuration),
            MockConnectionHandler(server: self.server, gate: gate, transport: TransportAbortHandler(), connectionID: 1),
        ])
        try self.channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 443)).wait()
    }

    override func tearDownWithError() throws {
        _ = try self.channel.finish(acceptAlreadyClosed: true)
    }

    private func send(_ bytes: ByteBuffer) throws {
        try self.channel.writeInbound(bytes)
    }

    /// Everything the server wrote since the last call, as frames.
    private func serverFrames() throws -> [RawFrame] {
        var bytes = ByteBuffer()
        while var chunk = try self.channel.readOutbound(as: ByteBuffer.self) {
            bytes.writeBuffer(&chunk)
        }
        return RawFrame.parse(&bytes)
    }

    private func pushHeaders(stream: UInt32, endStream: Bool) throws -> ByteBuffer {
        try self.client.headers(
            stream: stream,
            [
                (":method", "POST"), (":scheme", "https"), (":authority", "localhost"),
                (":path", "/3/device/\(TestCredentials.deviceToken)"),
                ("authorization", "bearer \(try TestJWT.valid())"), ("apns-topic", TestCredentials.bundleID),
            ],
            endStream: endStream
        )
    }

    func testInitialSettingsAllowOneStream() throws {
        let settings = try self.serverFrames().first { $0.type == RawFrame.settings }
        XCTAssertEqual(settings?.settings[0x3], 1)
        XCTAssertEqual(settings?.settings[0x6], 8000)
    }

    func testStreamsOpenedBeforeTheAcknowledgementAreNoViolation() throws {
        try self.send(self.client.preface(acknowledgeServerSettings: false))
        for stream in [1, 3, 5] as [UInt32] {
            try self.send(self.pushHeaders(stream: stream, endStream: false))
        }
        XCTAssertEqual(self.server.state.stats.maxConcurrentStreamsObserved, 3)
        XCTAssertEqual(self.server.state.stats.streamLimitViolations, 0)
        XCTAssertTrue(self.channel.isActive)
    }

    func testStreamOverTheAcknowledgedLimitIsAViolation() throws {
        try self.send(self.client.preface(acknowledgeServerSettings: true))
        try self.send(self.pushHeaders(stream: 1, endStream: false))
        try self.send(self.pushHeaders(stream: 3, endStream: false))

        XCTAssertEqual(self.server.state.stats.streamLimitViolations, 1)
        XCTAssertEqual(self.server.state.stats.maxConcurrentStreamsObserved, 1)
        let goaway = try self.serverFrames().first { $0.type == RawFrame.goaway }
        XCTAssertNotNil(goaway, "NIOHTTP2 ends the connection of a client that broke the limit")
    }

    func testFirstSuccessRaisesTheLimit() throws {
        try self.send(self.client.preface(acknowledgeServerSettings: true))
        try self.send(self.pushHeaders(stream: 1, endStream: false))
        try self.send(self.client.data(stream: 1, #"{"aps":{}}"#))

        let frames = try self.serverFrames()
        let response = try XCTUnwrap(frames.first { $0.type == RawFrame.headers && $0.streamID == 1 })
        XCTAssertTrue(response.flags & 0x1 != 0, "END_STREAM on the HEADERS of a 200")
        let raised = try XCTUnwrap(frames.last { $0.type == RawFrame.settings && $0.flags == 0 })
        XCTAssertEqual(raised.settings[0x3], 1000)
        XCTAssertEqual(self.server.state.stats.responsesByStatus, [200: 1])

        // Once the client acknowledged the new limit, it may open many streams.
        try self.send(RawFrame.bytes(type: RawFrame.settings, flags: 0x1, streamID: 0, payload: ByteBuffer()))
        for stream in [3, 5, 7] as [UInt32] {
            try self.send(self.pushHeaders(stream: stream, endStream: false))
        }
        XCTAssertEqual(self.server.state.stats.maxConcurrentStreamsObserved, 3)
        XCTAssertEqual(self.server.state.stats.streamLimitViolations, 0)
    }

    func testLargeBodyGetsWindowUpdates() throws {
        try self.send(self.client.preface(acknowledgeServerSettings: true))
        try self.send(self.pushHeaders(stream: 1, endStream: false))
        _ = try self.serverFrames()
        let chunk = String(repeating: "x", count: 16_000)
        for _ in 0..<3 {
            try self.send(self.client.data(stream: 1, chunk, endStream: false))
        }
        let updates = try self.serverFrames().filter { $0.type == RawFrame.windowUpdate && $0.streamID == 1 }
        XCTAssertFalse(updates.isEmpty, "the stream window is replenished past half")
        try self.send(self.client.data(stream: 1, chunk))
        XCTAssertEqual(self.server.state.received.last?.responseStatus, 413)
    }
}

extension ConnectionHandlerTests {
    private func ping(_ value: UInt64) -> ByteBuffer {
        var payload = ByteBuffer()
        payload.writeInteger(value)
        return RawFrame.bytes(type: RawFrame.ping, flags: 0, streamID: 0, payload: payload)
    }

    private func pingAcks(in frames: [RawFrame]) -> [UInt64] {
        frames.filter { $0.type == RawFrame.ping && $0.flags & 0x1 != 0 }.compactMap {
            $0.payload.getInteger(at: $0.payload.readerIndex, as: UInt64.self)
        }
    }

    func testPingIsAnsweredUntilTheConnectionStalls() throws {
        self.server.state.faults = MockFaults(stallAfterStreams: 1)
        try self.send(self.client.preface(acknowledgeServerSettings: true))
        try self.send(self.ping(7))
        XCTAssertEqual(self.pingAcks(in: try self.serverFrames()), [7])

        try self.send(self.pushHeaders(stream: 1, endStream: false))
        try self.send(self.client.data(stream: 1, #"{"aps":{}}"#))
        XCTAssertEqual(self.server.state.received.map(\.responseStatus), [200])
        _ = try self.serverFrames()

        try self.send(self.pushHeaders(stream: 3, endStream: false))
        try self.send(self.client.data(stream: 3, #"{"aps":{}}"#))
        try self.send(self.ping(8))
        let frames = try self.serverFrames()
        XCTAssertEqual(self.pingAcks(in: frames), [], "a stalled connection answers nothing")
        XCTAssertFalse(frames.contains { $0.streamID == 3 })
        XCTAssertEqual(self.server.state.received.map(\.responseStatus), [200, nil])
        XCTAssertTrue(self.channel.isActive, "stalled, not closed")
    }

    func testStallConnectionsLimitsTheStallToTheFirstConnections() {
        XCTAssertTrue(MockFaults(stallAfterStreams: 1).stalls(connectionID: 7), "without a limit every connection stalls")
        let limited = MockFaults(stallAfterStreams: 1, stallConnections: 2)
        XCTAssertEqual([1, 2, 3, 4].map { limited.stalls(connectionID: $0) }, [true, true, false, false])
        XCTAssertFalse(MockFaults(stallConnections: 2).stalls(connectionID: 1), "no stall without stallAfterStreams")
    }

    func testClientGoawayClosesOnceItsStreamsAreDone() throws {
        try self.send(self.client.preface(acknowledgeServerSettings: true))
        try self.send(self.pushHeaders(stream: 1, endStream: false))
        var goawayPayload = ByteBuffer()
        goawayPayload.writeInteger(UInt32(0))  // last-stream-id: no server-initiated streams
        goawayPayload.writeInteger(UInt32(0))  // NO_ERROR
        try self.send(RawFrame.bytes(type: RawFrame.goaway, flags: 0, streamID: 0, payload: goawayPayload))
        XCTAssertTrue(self.channel.isActive, "stream 1 is still in flight")

        try self.send(self.client.data(stream: 1, #"{"aps":{}}"#))
        XCTAssertEqual(self.server.state.received.map(\.responseStatus), [200])
        XCTAssertFalse(self.channel.isActive, "closed after answering the last stream")
    }
}

/// Client frames written by hand.
struct ClientFrames {
    private var encoder = HPACKEncoder(allocator: ByteBufferAllocator())

    func preface(acknowledgeServerSettings: Bool) -> ByteBuffer {
        var bytes = ByteBuffer(string: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        var settings = RawFrame.bytes(type: RawFrame.settings, flags: 0, streamID: 0, payload: ByteBuffer())
        bytes.writeBuffer(&settings)
        if acknowledgeServerSettings {
            var ack = RawFrame.bytes(type: RawFrame.settings, flags: 0x1, streamID: 0, payload: ByteBuffer())
            bytes.writeBuffer(&ack)
        }
        return bytes
    }

    mutating func headers(stream: UInt32, _ headers: [(String, String)], endStream: Bool) throws -> ByteBuffer {
        var block = ByteBuffer()
        try self.encoder.encode(headers: HPACKHeaders(headers), to: &block)
        return RawFrame.bytes(type: RawFrame.headers, flags: 0x4 | (endStream ? 0x1 : 0), streamID: stream, payload: block)
    }

    func data(stream: UInt32, _ text: String, endStream: Bool = true) -> ByteBuffer {
        RawFrame.bytes(type: RawFrame.data, flags: endStream ? 0x1 : 0, streamID: stream, payload: ByteBuffer(string: text))
    }
}

/// One HTTP/2 frame on the wire (RFC 9113 §4.1).
struct RawFrame {
    static let data: UInt8 = 0x0
    static let headers: UInt8 = 0x1
    static let settings: UInt8 = 0x4
    static let ping: UInt8 = 0x6
    static let goaway: UInt8 = 0x7
    static let windowUpdate: UInt8 = 0x8

    var type: UInt8
    var flags: UInt8
    var streamID: UInt32
    var payload: ByteBuffer

    /// The parameters of a SETTINGS frame.
    var settings: [UInt16: UInt32] {
        var payload = self.payload
        var result: [UInt16: UInt32] = [:]
        while let id = payload.readInteger(as: UInt16.self), let value = payload.readInteger(as: UInt32.self) {
            result[id] = value
        }
        return result
    }

    static func bytes(type: UInt8, flags: UInt8, streamID: UInt32, payload: ByteBuffer) -> ByteBuffer {
        var buffer = ByteBuffer()
        let length = UInt32(payload.readableBytes)
        buffer.writeInteger(UInt8(truncatingIfNeeded: length >> 16))
        buffer.writeInteger(UInt16(truncatingIfNeeded: length))
        buffer.writeInteger(type)
        buffer.writeInteger(flags)
        buffer.writeInteger(streamID)
        var payload = payload
        buffer.writeBuffer(&payload)
        return buffer
    }

    static func parse(_ bytes: inout ByteBuffer) -> [RawFrame] {
        var frames: [RawFrame] = []
        while bytes.readableBytes >= 9,
            let high = bytes.getInteger(at: bytes.readerIndex, as: UInt8.self),
            let low = bytes.getInteger(at: bytes.readerIndex + 1, as: UInt16.self),
            bytes.readableBytes >= 9 + (Int(high) << 16 | Int(low))
        {
            bytes.moveReaderIndex(forwardBy: 3)
            guard let type = bytes.readInteger(as: UInt8.self),
                let flags = bytes.readInteger(as: UInt8.self),
                let streamID = bytes.readInteger(as: UInt32.self),
                let payload = bytes.readSlice(length: Int(high) << 16 | Int(low))
            else { break }
            frames.append(RawFrame(type: type, flags: flags, streamID: streamID & 0x7FFF_FFFF, payload: payload))
        }
        return frames
    }
}
