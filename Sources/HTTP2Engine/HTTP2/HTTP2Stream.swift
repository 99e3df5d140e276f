import NIOCore

/// The state of one open stream: its exchange and the response as it arrives.
/// Owned by the ``NGHTTP2Session`` that opened it, on that session's event loop.
final class HTTP2Stream {
    private(set) var exchange: any HTTP2Exchange
    /// The request body still to send.
    var pendingBody: ByteBuffer
    var streamID: Int32 = 0
    /// True once the HEADERS frame went out: from then on the server may act on the request.
    var headersSent = false
    var endStreamReceived = false
    var status = 0
    /// Set when the response broke HTTP/2's rules for its fields (a bad or misplaced `:status`): the stream is
    /// being reset, and nothing more of the response is taken.
    var malformed = false
    /// The response's regular header fields, as they arrived.
    var fields = HTTP2HeaderFields()
    var body: ByteBuffer?
    /// The RST_STREAM or close error code, set when the stream closes.
    var closeErrorCode: UInt32 = 0
    /// Set when the exchange's deadline passed and the stream was reset for it.
    var deadlinePassed = false
    /// When the request went out (to within one write chunk), for the response's timing.
    var sentAt = NIODeadline.uptimeNanoseconds(0)

    init(exchange: any HTTP2Exchange) {
        self.exchange = exchange
        self.pendingBody = exchange.requestBody
    }

    /// Makes a recycled stream new for `exchange`.
    func prepare(for exchange: any HTTP2Exchange) {
        self.exchange = exchange
        pendingBody = exchange.requestBody
        streamID = 0
        headersSent = false
        endStreamReceived = false
        status = 0
        malformed = false
        fields.removeAll()
        body = nil
        closeErrorCode = 0
        deadlinePassed = false
        sentAt = .uptimeNanoseconds(0)
    }

    /// Drops what a closed stream holds (its exchange, body and response) while it waits for reuse; `placeholder`
    /// (its session's) stands in for the exchange.
    func release(placeholder: ReleasedExchange) {
        exchange = placeholder
        pendingBody = placeholder.requestBody
        fields.removeAll()
        body = nil
    }

    /// What this stream's close means for its exchange; a response carries when it was sent and `receivedAt`.
    func result(receivedAt: NIODeadline) -> Result<HTTP2Response, HTTP2Error> {
        if status != 0 && (closeErrorCode == 0 || endStreamReceived) {
            var response = HTTP2Response(status: status, fields: fields, body: body)
            response.sentAt = sentAt
            response.receivedAt = receivedAt
            return .success(response)
        }
        if !headersSent || closeErrorCode == HTTP2ErrorCode.refusedStream {
            return .failure(.notSent("stream refused before the server processed it"))
        }
        if closeErrorCode == 0 {
            return .failure(.protocolError("stream closed without a response"))
        }
        return .failure(.streamReset(closeErrorCode))
    }
}

/// HTTP/2 error codes (RFC 9113 §7) the engine acts on.
enum HTTP2ErrorCode {
    static let noError: UInt32 = 0x0
    static let protocolError: UInt32 = 0x1
    static let internalError: UInt32 = 0x2
    static let refusedStream: UInt32 = 0x7
    static let cancel: UInt32 = 0x8
}

/// Stands in for the exchange of a stream that waits for reuse, so the stream keeps nothing of the last one.
///
/// One per session, not one for the process: every push retains and releases it (and its empty body's storage),
/// and an object shared by the connections of every event loop would have its reference count's cache line pass
/// between the CPUs at each of those.
final class ReleasedExchange: HTTP2Exchange {
    let deadline = NIODeadline.distantPast
    let requestBody = ByteBuffer()
    func writeHeaders(into writer: inout HTTP2HeaderWriter) {}
    func complete(_ result: Result<HTTP2Response, HTTP2Error>) {}
}
