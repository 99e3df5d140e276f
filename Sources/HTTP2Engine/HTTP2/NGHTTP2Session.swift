import NIOCore
internal import CAPNSShims
internal import CNGHTTP2

/// One nghttp2 client session. It does no I/O: bytes go in through ``receive(_:)`` and out through
/// ``send(into:)``.
///
/// nghttp2 reports what it parses through C callbacks. They are non-capturing trampolines that find the session
/// through `user_data`, record what happened and return; nothing re-enters the session from inside a callback.
/// The owner reads the results after ``receive(_:)`` returns: ``completedStreams``, ``settingsChanged``,
/// ``goAway`` and ``pingAcknowledged``. Confined to one event loop.
final class NGHTTP2Session {
    struct GoAway: Equatable {
        var lastStreamID: Int32
        var errorCode: UInt32
        var debugData: String
    }

    private var session: OpaquePointer?
    /// The session's own allocations (several per request: the stream, its outbound frames, copies of its header
    /// fields, each freed soon after) come from free lists kept for this session instead of from malloc, whose
    /// per-thread cache is too small for a read that closes a hundred streams at once. Deleted after the session.
    private let memory: OpaquePointer
    /// The most bytes of freed blocks ``memory`` keeps for reuse.
    static let maxKeptAllocationBytes = 256 * 1024
    /// Streams opened and not yet closed. The dictionary holds the only strong reference to each.
    private(set) var openStreams: [Int32: HTTP2Stream] = [:]
    /// Streams that closed during the last ``receive(_:)`` or ``send(into:)``, in closing order.
    var completedStreams: [HTTP2Stream] = []
    /// Set when a SETTINGS frame from the server arrived.
    var settingsChanged = false
    /// Set when the server's first SETTINGS frame arrived.
    private(set) var receivedServerSettings = false
    /// The server's GOAWAY, once received.
    private(set) var goAway: GoAway?
    /// Set when a PING acknowledgement arrived.
    var pingAcknowledged = false
    /// Request body bytes of open streams that nghttp2 has not yet taken for DATA frames.
    fileprivate(set) var unsentBodyBytes = 0
    private var nameValues: [nghttp2_nv] = []
    /// Closed streams kept for reuse, so that a push does not allocate one. Bounded.
    private var spareStreams: [HTTP2Stream] = []
    private static let maxSpareStreams = 1024
    /// What the spare streams hold in place of an exchange (see ``ReleasedExchange``).
    private let placeholder = ReleasedExchange()
    /// The server's connection-level receive window: 65,535 and whatever it added beyond acknowledging data.
    private(set) var serverConnectionWindow = 65_535
    /// Request body bytes sent in DATA frames since the connection began.
    fileprivate(set) var dataBytesSent = 0
    /// Request body bytes the server has acknowledged with connection WINDOW_UPDATEs.
    private(set) var dataBytesAcknowledged = 0

    init() throws {
        var callbacks: OpaquePointer?
        guard nghttp2_session_callbacks_new(&callbacks) == 0, let callbacks else {
            throw HTTP2Error.protocolError("nghttp2_session_callbacks_new failed")
        }
        defer { nghttp2_session_callbacks_del(callbacks) }
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, onFrameRecv)
        nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, onFrameSend)
        nghttp2_session_callbacks_set_on_header_callback(callbacks, onHeader)
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, onDataChunkRecv)
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, onStreamClose)
        nghttp2_session_callbacks_set_data_source_read_length_callback(callbacks, onDataFrameLength)

        var option: OpaquePointer?
        guard nghttp2_option_new(&option) == 0, let option else {
            throw HTTP2Error.protocolError("nghttp2_option_new failed")
        }
        defer { nghttp2_option_del(option) }
        // Open no more than one stream until the server says how many it allows.
        nghttp2_option_set_peer_max_concurrent_streams(option, 1)
        // nghttp2's HTTP messaging checks validate every response field's name and value byte by byte (about 2 %
        // of the gateway's CPU). The engine reads three fields of an APNs response and checks what it reads
        // itself: `:status` (three digits, once, first; see `onHeader`), and it treats the others as opaque bytes.
        nghttp2_option_set_no_http_messaging(option, 1)

        guard let memory = capns_memory_pool_new(Self.maxKeptAllocationBytes) else {
            throw HTTP2Error.protocolError("out of memory for an nghttp2 session")
        }
        var allocator = capns_memory_pool_nghttp2(memory)
        var session: OpaquePointer?
        let rc = nghttp2_session_client_new3(&session, callbacks, nil, option, &allocator)
        guard rc == 0, let session else {
            capns_memory_pool_delete(memory)
            throw HTTP2Error.protocolError("nghttp2_session_client_new3 failed: \(Self.describe(rc))")
        }
        self.memory = memory
        self.session = session
        nghttp2_session_set_user_data(session, Unmanaged.passUnretained(self).toOpaque())
        nameValues.reserveCapacity(16)
    }

    deinit {
        if let session {
            nghttp2_session_del(session)
        }
        capns_memory_pool_delete(memory)
    }

    /// What the session's allocations did so far: blocks taken from malloc, allocations served by a kept block,
    /// and the bytes kept now.
    var allocationStatistics: (allocated: Int, reused: Int, keptBytes: Int) {
        let statistics = capns_memory_pool_get_statistics(memory)
        return (Int(statistics.allocated), Int(statistics.reused), Int(statistics.cached_bytes))
    }

    /// Queues the client preface SETTINGS: no server push, a large receive window.
    func start(initialWindowSize: UInt32 = 1 << 20) throws {
        var settings = [
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_ENABLE_PUSH.rawValue), value: 0),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue), value: initialWindowSize),
        ]
        try check(nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), &settings, settings.count))
        try check(nghttp2_session_set_local_window_size(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, 16 << 20))
    }

    /// The server's current SETTINGS_MAX_CONCURRENT_STREAMS.
    var remoteMaxConcurrentStreams: Int {
        Int(nghttp2_session_get_remote_settings(session, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS))
    }

    /// How many request body bytes the server's connection-level flow-control window takes now.
    var remoteWindowSize: Int {
        Int(nghttp2_session_get_remote_window_size(session))
    }

    /// Whether the session still wants to read or write; false once both sides are done.
    var isAlive: Bool {
        nghttp2_session_want_read(session) != 0 || nghttp2_session_want_write(session) != 0
    }

    /// Opens a stream for `exchange`, with the header fields in `writer`.
    /// Returns the stream, or throws when the session cannot open one (stream ids exhausted, GOAWAY).
    func submit(_ exchange: any HTTP2Exchange, headers writer: borrowing HTTP2HeaderWriter) throws(HTTP2Error) -> HTTP2Stream {
        let stream: HTTP2Stream
        if let spare = spareStreams.popLast() {
            spare.prepare(for: exchange)
            stream = spare
        } else {
            stream = HTTP2Stream(exchange: exchange)
        }
        let streamPointer = Unmanaged.passUnretained(stream).toOpaque()
        let flags = UInt8(NGHTTP2_NV_FLAG_NO_COPY_NAME.rawValue)
        nameValues.removeAll(keepingCapacity: true)
        writer.forEachField { name, value in
            nameValues.append(nghttp2_nv(
                name: UnsafeMutablePointer(mutating: name.utf8Start),
                value: UnsafeMutablePointer(mutating: value.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? name.utf8Start),
                namelen: name.utf8CodeUnitCount,
                valuelen: value.count,
                flags: flags
            ))
        }
        var provider = nghttp2_data_provider(
            source: nghttp2_data_source(ptr: streamPointer),
            read_callback: readBody
        )
        // nghttp2 copies the fields (names and values) before it returns; `writer` is not changed meanwhile.
        let streamID = nghttp2_submit_request(session, nil, nameValues, nameValues.count, &provider, streamPointer)
        guard streamID > 0 else {
            throw HTTP2Error.notSent("cannot open a stream: \(Self.describe(streamID))")
        }
        stream.streamID = streamID
        openStreams[streamID] = stream
        unsentBodyBytes += stream.pendingBody.readableBytes
        return stream
    }

    /// Takes back a stream that closed and whose exchange has been answered (or handed on): a later
    /// ``submit(_:headers:)`` reuses it. The stream must no longer be referenced by anyone else.
    func recycle(_ stream: HTTP2Stream) {
        guard spareStreams.count < Self.maxSpareStreams else { return }
        stream.release(placeholder: placeholder)
        spareStreams.append(stream)
    }

    /// Resets a stream (for a passed deadline). Its close arrives through ``completedStreams``.
    func reset(streamID: Int32, errorCode: UInt32 = HTTP2ErrorCode.cancel) {
        _ = nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, errorCode)
    }

    /// Queues a PING.
    func ping() throws {
        try check(nghttp2_submit_ping(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), nil))
    }

    /// Queues a GOAWAY telling the server we are done.
    func terminate() {
        _ = nghttp2_session_terminate_session(session, HTTP2ErrorCode.noError)
    }

    /// Parses received plaintext. Throws on a connection-level protocol error.
    func receive(_ bytes: UnsafeRawBufferPointer) throws {
        guard !bytes.isEmpty else { return }
        let rc = nghttp2_session_mem_recv(session, bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), bytes.count)
        if rc < 0 {
            throw HTTP2Error.protocolError("HTTP/2 receive failed: \(Self.describe(Int32(truncatingIfNeeded: rc)))")
        }
    }

    /// Serialises every pending frame into `buffer`. Returns the number of bytes added.
    @discardableResult
    func send(into buffer: inout ByteBuffer) throws -> Int {
        var total = 0
        while true {
            var data: UnsafePointer<UInt8>?
            let n = nghttp2_session_mem_send(session, &data)
            if n < 0 {
                throw HTTP2Error.protocolError("HTTP/2 send failed: \(Self.describe(Int32(truncatingIfNeeded: n)))")
            }
            guard n > 0, let data else { return total }
            buffer.writeBytes(UnsafeRawBufferPointer(start: data, count: n))
            total += n
        }
    }

    /// Takes every open stream away (the connection died): their exchanges are the caller's to answer.
    func removeAllStreams() -> [HTTP2Stream] {
        let streams = Array(openStreams.values)
        openStreams.removeAll()
        unsentBodyBytes = 0
        return streams
    }

    private func check(_ rc: Int32) throws {
        if rc != 0 {
            throw HTTP2Error.protocolError(Self.describe(rc))
        }
    }

    static func describe(_ rc: Int32) -> String {
        String(cString: nghttp2_strerror(rc))
    }

    // MARK: Callback bodies (called from the trampolines below)

    fileprivate func frameReceived(_ frame: UnsafePointer<nghttp2_frame>) {
        let header = frame.pointee.hd
        switch Int(header.type) {
        case Int(NGHTTP2_SETTINGS.rawValue):
            if header.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) == 0 {
                receivedServerSettings = true
                settingsChanged = true
            }
        case Int(NGHTTP2_GOAWAY.rawValue):
            let goaway = frame.pointee.goaway
            var debug = ""
            if let data = goaway.opaque_data, goaway.opaque_data_len > 0 {
                debug = String(decoding: UnsafeBufferPointer(start: data, count: min(goaway.opaque_data_len, 512)), as: UTF8.self)
            }
            goAway = GoAway(lastStreamID: goaway.last_stream_id, errorCode: goaway.error_code, debugData: debug)
        case Int(NGHTTP2_PING.rawValue):
            if header.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) != 0 {
                pingAcknowledged = true
            }
        case Int(NGHTTP2_WINDOW_UPDATE.rawValue) where header.stream_id == 0:
            // An increment acknowledges the bytes sent and not yet acknowledged; beyond them it widens the window.
            let increment = Int(frame.pointee.window_update.window_size_increment)
            let acknowledged = min(increment, dataBytesSent - dataBytesAcknowledged)
            dataBytesAcknowledged += acknowledged
            serverConnectionWindow += increment - acknowledged
        case Int(NGHTTP2_HEADERS.rawValue), Int(NGHTTP2_DATA.rawValue):
            if header.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0 {
                withStream(header.stream_id) { $0.endStreamReceived = true }
            }
        default:
            break
        }
    }

    /// The longest next DATA frame: at most `maxFrameSize`, and ending where the server will acknowledge.
    ///
    /// A server acknowledges its connection window in WINDOW_UPDATEs, and nghttp2 (nghttpd, and many servers built on
    /// it) sends one once the bytes received since the last reach half its window, for exactly those bytes. A DATA
    /// frame that crosses that mark leaves its tail unacknowledged until more data arrives; when the client is
    /// waiting for window, that tail is held across a whole round trip, and with it up to half the window (with
    /// 4,000-byte bodies across 80 ms a connection carried half the pushes the window allows). Ending frames on the
    /// marks, counted from the last acknowledged byte, lets each half window be acknowledged whole. It costs a
    /// 9-byte frame header at most twice per window of data, and nothing with a server that acknowledges otherwise.
    fileprivate func dataFrameLength(maxFrameSize: Int) -> Int {
        let half = max(serverConnectionWindow / 2, 1)
        let toMark = half - (dataBytesSent - dataBytesAcknowledged) % half
        return min(maxFrameSize, toMark)
    }

    fileprivate func frameSent(_ frame: UnsafePointer<nghttp2_frame>) {
        let header = frame.pointee.hd
        if Int(header.type) == Int(NGHTTP2_HEADERS.rawValue) {
            withStream(header.stream_id) { $0.headersSent = true }
        }
    }

    /// Calls `body` with an open stream, found through the pointer nghttp2 keeps for it (cheaper than hashing into
    /// `openStreams`) and borrowed (see the callbacks below).
    @inline(__always)
    private func withStream(_ streamID: Int32, _ body: (HTTP2Stream) -> Void) {
        _ = withOpenStream(session, streamID, body)
    }

    fileprivate func streamClosed(_ streamID: Int32, errorCode: UInt32) {
        guard let stream = openStreams.removeValue(forKey: streamID) else { return }
        unsentBodyBytes -= stream.pendingBody.readableBytes
        stream.closeErrorCode = errorCode
        completedStreams.append(stream)
    }
}

// MARK: - C trampolines

// The callbacks borrow the session and the stream instead of retaining them: both are kept alive by their owners
// for the whole callback (the session by its handler, which is inside `mem_recv` or `mem_send`; an open stream by
// `openStreams`, and a closing one by the local that moves it to `completedStreams`), and a callback stores
// neither. That saves two atomic reference-count operations per callback, several callbacks per request.

@inline(__always)
private func withSession<Result>(_ userData: UnsafeMutableRawPointer?, _ body: (NGHTTP2Session) -> Result) -> Result {
    guard let userData else { fatalError("nghttp2 callback without user data") }
    return Unmanaged<NGHTTP2Session>.fromOpaque(userData)._withUnsafeGuaranteedRef(body)
}

/// Calls `body` with the open stream `streamID`, borrowed; returns 0 (nghttp2's "go on") either way.
@inline(__always)
private func withOpenStream(_ session: OpaquePointer?, _ streamID: Int32, _ body: (HTTP2Stream) -> Void) -> Int32 {
    guard let pointer = nghttp2_session_get_stream_user_data(session, streamID) else { return 0 }
    Unmanaged<HTTP2Stream>.fromOpaque(pointer)._withUnsafeGuaranteedRef(body)
    return 0
}

private let onFrameRecv: nghttp2_on_frame_recv_callback = { _, frame, userData in
    if let frame {
        withSession(userData) { $0.frameReceived(frame) }
    }
    return 0
}

private let onFrameSend: nghttp2_on_frame_send_callback = { _, frame, userData in
    if let frame {
        withSession(userData) { $0.frameSent(frame) }
    }
    return 0
}

private let onHeader: nghttp2_on_header_callback = { rawSession, frame, name, nameLength, value, valueLength, _, _ in
    guard let frame, let name, let value else { return 0 }
    let streamID = frame.pointee.hd.stream_id
    return withOpenStream(rawSession, streamID) { target in
        guard !target.malformed else { return }
        let nameBytes = UnsafeBufferPointer(start: name, count: nameLength)
        let valueBytes = UnsafeBufferPointer(start: value, count: valueLength)
        if nameLength > 0, name[0] == UInt8(ascii: ":") {
            // The one pseudo-field of a response: three digits, once, before every regular field (RFC 9113
            // §8.3.2). Anything else makes the response malformed: the stream is reset with PROTOCOL_ERROR, as
            // nghttp2's own checks would.
            if let status = statusCode(valueBytes), nameLength == 7, nameBytes.elementsEqual(":status".utf8),
               target.status == 0, target.fields.isEmpty {
                target.status = status
            } else {
                target.malformed = true
                target.status = 0
                nghttp2_submit_rst_stream(rawSession, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, NGHTTP2_PROTOCOL_ERROR.rawValue)
            }
        } else {
            target.fields.append(name: nameBytes, value: valueBytes)
        }
    }
}

/// The value of a `:status` field: exactly three ASCII digits, 100 to 999.
@inline(__always)
private func statusCode(_ value: UnsafeBufferPointer<UInt8>) -> Int? {
    guard value.count == 3 else { return nil }
    var status = 0
    for digit in value {
        guard digit >= UInt8(ascii: "0") && digit <= UInt8(ascii: "9") else { return nil }
        status = status * 10 + Int(digit &- UInt8(ascii: "0"))
    }
    return status >= 100 ? status : nil
}

private let onDataChunkRecv: nghttp2_on_data_chunk_recv_callback = { rawSession, _, streamID, data, length, _ in
    guard let data else { return 0 }
    return withOpenStream(rawSession, streamID) { target in
        let bytes = UnsafeRawBufferPointer(start: data, count: length)
        if target.body == nil {
            target.body = ByteBuffer(bytes: bytes)
        } else {
            target.body!.writeBytes(bytes)
        }
    }
}

private let onStreamClose: nghttp2_on_stream_close_callback = { _, streamID, errorCode, userData in
    withSession(userData) { $0.streamClosed(streamID, errorCode: errorCode) }
    return 0
}

private let readBody: nghttp2_data_source_read_callback = { _, _, buffer, length, flags, source, userData in
    guard let pointer = source?.pointee.ptr, let buffer, let flags else {
        return Int(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue)
    }
    let count = Unmanaged<HTTP2Stream>.fromOpaque(pointer)._withUnsafeGuaranteedRef { target in
        let count = min(length, target.pendingBody.readableBytes)
        target.pendingBody.withUnsafeReadableBytes { bytes in
            if count > 0 {
                UnsafeMutableRawPointer(buffer).copyMemory(from: bytes.baseAddress!, byteCount: count)
            }
        }
        target.pendingBody.moveReaderIndex(forwardBy: count)
        if target.pendingBody.readableBytes == 0 {
            flags.pointee |= UInt32(NGHTTP2_DATA_FLAG_EOF.rawValue)
        }
        return count
    }
    withSession(userData) {
        $0.unsentBodyBytes -= count
        $0.dataBytesSent += count
    }
    return count
}

private let onDataFrameLength: nghttp2_data_source_read_length_callback = { _, _, _, _, _, maxFrameSize, userData in
    withSession(userData) { $0.dataFrameLength(maxFrameSize: Int(maxFrameSize)) }
}
