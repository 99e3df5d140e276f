internal import CNGHTTP2
import NIOCore

/// The engine's HTTP/2 session wired to an nghttp2 server session in memory: a whole request/response
/// exchange with no socket, no TLS and no event loop, so that the HTTP/2 layer's own cost per exchange (header
/// encoding, framing, stream bookkeeping, parsing the response) can be measured on its own.
///
/// By default the server answers every request with `:status 200` and no body, as APNs does on success; tests
/// give it other header fields (in the order given, unchecked), to see how the client takes a malformed answer.
@_spi(Benchmarking)
public final class InMemoryRoundTrip {
    private let client: NGHTTP2Session
    private var server: OpaquePointer?
    private var headerWriter = HTTP2HeaderWriter()
    private var wire = ByteBuffer()
    fileprivate var requestsToAnswer: [Int32] = []
    /// The answer's fields, their names and values in one allocation that lives as long as this.
    private var answer: [nghttp2_nv] = []
    private let answerBytes: UnsafeMutableRawBufferPointer

    /// - Parameter serverConnectionWindow: the server's connection-level receive window; beyond HTTP/2's 65,535 it
    ///   announces the difference in a WINDOW_UPDATE, as nghttpd does with `-W`.
    public init(answer fields: [(name: String, value: String)] = [(":status", "200")], serverConnectionWindow: Int32 = 65_535) throws {
        answerBytes = .allocate(byteCount: max(fields.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count }, 1), alignment: 1)
        var offset = 0
        for field in fields {
            let name = answerBytes.baseAddress!.advanced(by: offset).assumingMemoryBound(to: UInt8.self)
            UnsafeMutableRawBufferPointer(rebasing: answerBytes[offset...]).copyBytes(from: field.name.utf8)
            offset += field.name.utf8.count
            let value = answerBytes.baseAddress!.advanced(by: offset).assumingMemoryBound(to: UInt8.self)
            UnsafeMutableRawBufferPointer(rebasing: answerBytes[offset...]).copyBytes(from: field.value.utf8)
            offset += field.value.utf8.count
            answer.append(nghttp2_nv(
                name: name, value: value, namelen: field.name.utf8.count, valuelen: field.value.utf8.count,
                flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue)))
        }
        client = try NGHTTP2Session()
        try client.start()
        var callbacks: OpaquePointer?
        guard nghttp2_session_callbacks_new(&callbacks) == 0, let callbacks else {
            throw HTTP2Error.protocolError("nghttp2_session_callbacks_new failed")
        }
        defer { nghttp2_session_callbacks_del(callbacks) }
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, serverFrameReceived)
        var session: OpaquePointer?
        guard nghttp2_session_server_new(&session, callbacks, nil) == 0, let session else {
            throw HTTP2Error.protocolError("nghttp2_session_server_new failed")
        }
        server = session
        nghttp2_session_set_user_data(session, Unmanaged.passUnretained(self).toOpaque())
        var settings = nghttp2_settings_entry(
            settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue), value: 1000)
        _ = nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), &settings, 1)
        if serverConnectionWindow != 65_535 {
            _ = nghttp2_session_set_local_window_size(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, serverConnectionWindow)
        }
        try pump()
    }

    deinit {
        nghttp2_session_del(server)
        answerBytes.deallocate()
    }

    /// Sends `exchange` as one request, lets the server answer it, and completes the exchange with the
    /// response, all on the calling thread.
    /// What the client session's allocations did so far (see ``NGHTTP2Session/allocationStatistics``).
    public var clientAllocations: (allocated: Int, reused: Int, keptBytes: Int) {
        client.allocationStatistics
    }

    public func roundTrip(_ exchange: any HTTP2Exchange) throws {
        headerWriter.reset()
        exchange.writeHeaders(into: &headerWriter)
        _ = try client.submit(exchange, headers: headerWriter)
        try pump()
        for stream in client.completedStreams {
            stream.exchange.complete(stream.result(receivedAt: .now()))
            client.recycle(stream)
        }
        client.completedStreams.removeAll(keepingCapacity: true)
    }

    /// Sends `exchanges` the way a client waiting on the server's flow-control window does across a long round
    /// trip, and returns the request-body bytes each round carried. In a round the client writes all that the
    /// windows let it; the server reads those bytes `serverReadSize` at a time and, after each read, writes what it
    /// has to say (WINDOW_UPDATEs, answers), as nghttpd does; the client reads all of it at the round's end. Ends
    /// when a round moves nothing (every exchange answered) or after `maxRounds`.
    public func rounds(sending exchanges: [any HTTP2Exchange], serverReadSize: Int, maxRounds: Int = 1_000) throws -> [Int] {
        for exchange in exchanges {
            headerWriter.reset()
            exchange.writeHeaders(into: &headerWriter)
            _ = try client.submit(exchange, headers: headerWriter)
        }
        var carried: [Int] = []
        var answers = ByteBuffer()
        while carried.count < maxRounds {
            let sentBefore = client.dataBytesSent
            wire.clear()
            try client.send(into: &wire)
            answers.clear()
            var moved = wire.readableBytes
            repeat {
                let chunk = wire.readSlice(length: min(serverReadSize, wire.readableBytes))!
                try chunk.withUnsafeReadableBytes { bytes in try feed(server: bytes) }
                for streamID in requestsToAnswer {
                    _ = nghttp2_submit_response(server, streamID, answer, answer.count, nil)
                }
                requestsToAnswer.removeAll(keepingCapacity: true)
                while true {
                    var data: UnsafePointer<UInt8>?
                    let count = nghttp2_session_mem_send(server, &data)
                    guard count > 0, let data else { break }
                    answers.writeBytes(UnsafeRawBufferPointer(start: data, count: count))
                }
            } while wire.readableBytes > 0
            moved += answers.readableBytes
            try answers.withUnsafeReadableBytes { bytes in try client.receive(bytes) }
            for stream in client.completedStreams {
                stream.exchange.complete(stream.result(receivedAt: .now()))
                client.recycle(stream)
            }
            client.completedStreams.removeAll(keepingCapacity: true)
            if moved == 0 { break }
            carried.append(client.dataBytesSent - sentBefore)
        }
        return carried
    }

    /// Moves bytes both ways until neither side has anything to say.
    private func pump() throws {
        while true {
            wire.clear()
            try client.send(into: &wire)
            var moved = wire.readableBytes
            try wire.withUnsafeReadableBytes { bytes in try feed(server: bytes) }
            for streamID in requestsToAnswer {
                _ = nghttp2_submit_response(server, streamID, answer, answer.count, nil)
            }
            requestsToAnswer.removeAll(keepingCapacity: true)
            wire.clear()
            while true {
                var data: UnsafePointer<UInt8>?
                let count = nghttp2_session_mem_send(server, &data)
                guard count > 0, let data else { break }
                wire.writeBytes(UnsafeRawBufferPointer(start: data, count: count))
            }
            moved += wire.readableBytes
            try wire.withUnsafeReadableBytes { bytes in try client.receive(bytes) }
            if moved == 0 { return }
        }
    }

    private func feed(server bytes: UnsafeRawBufferPointer) throws {
        guard !bytes.isEmpty else { return }
        let rc = nghttp2_session_mem_recv(server, bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), bytes.count)
        if rc < 0 { throw HTTP2Error.protocolError("in-memory server: \(NGHTTP2Session.describe(Int32(truncatingIfNeeded: rc)))") }
    }
}

/// The server side notes each request that has arrived whole; ``InMemoryRoundTrip`` answers them.
private let serverFrameReceived: nghttp2_on_frame_recv_callback = { _, frame, userData in
    guard let frame, let userData else { return 0 }
    let header = frame.pointee.hd
    let endStream = header.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
    let type = Int(header.type)
    if endStream && (type == Int(NGHTTP2_DATA.rawValue) || type == Int(NGHTTP2_HEADERS.rawValue)) {
        Unmanaged<InMemoryRoundTrip>.fromOpaque(userData).takeUnretainedValue().requestsToAnswer.append(header.stream_id)
    }
    return 0
}
