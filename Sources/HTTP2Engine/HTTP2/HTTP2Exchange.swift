import NIOCore

/// One request/response exchange that the pool carries to a server.
///
/// The pool stores exchanges as class references, so the caller's own per-request object is the only
/// allocation it needs: no wrapper, no closure. Ownership passes hand to hand: the caller, the pool's queue,
/// one connection, then ``complete(_:)``. At any moment exactly one of them holds it.
public protocol HTTP2Exchange: AnyObject, Sendable {
    /// When the exchange must have completed; past it, the pool answers ``HTTP2Error/deadlineExceeded``.
    var deadline: NIODeadline { get }
    /// The request body, sent exactly as given.
    var requestBody: ByteBuffer { get }
    /// Writes the request's header fields, pseudo-headers first. Called on the connection's event loop
    /// each time the exchange is sent (so a retry can carry a fresh `authorization`).
    func writeHeaders(into writer: inout HTTP2HeaderWriter)
    /// Receives the outcome, exactly once, on a connection's event loop or the thread that drove the pool.
    func complete(_ result: Result<HTTP2Response, HTTP2Error>)
}

/// A response: status, regular header fields and body.
public struct HTTP2Response: Sendable, Hashable {
    public var status: Int
    /// Header fields other than pseudo-headers, names lowercase, in arrival order.
    ///
    /// Kept as the bytes that arrived and turned into strings only when read here; ``header(_:)`` looks one
    /// field up without decoding the others.
    public var headers: [HTTP2Header] {
        get { fields.decoded }
        set { fields = HTTP2HeaderFields(newValue) }
    }
    /// The body, nil when the server sent none.
    public var body: ByteBuffer?
    /// The header fields, encoded.
    var fields: HTTP2HeaderFields
    /// When the request was written to the connection (to within one write of about 16 KiB: the clock is read
    /// once per write, not per request).
    public internal(set) var sentAt = NIODeadline.uptimeNanoseconds(0)
    /// When the response was read (the clock is read once per batch of responses read together).
    public internal(set) var receivedAt = NIODeadline.uptimeNanoseconds(0)

    public init(status: Int, headers: [HTTP2Header] = [], body: ByteBuffer? = nil) {
        self.status = status
        self.fields = HTTP2HeaderFields(headers)
        self.body = body
    }

    init(status: Int, fields: HTTP2HeaderFields, body: ByteBuffer?) {
        self.status = status
        self.fields = fields
        self.body = body
    }

    /// The first value of a header field (`name` in lowercase).
    public func header(_ name: String) -> String? {
        fields.first(named: name)
    }

    /// Calls `body` with the bytes of the first value of a header field (`name` in lowercase), if there is one;
    /// they are valid only during the call. A value read without making a `String`.
    public func withHeader(_ name: String, _ body: (UnsafeRawBufferPointer) -> Void) {
        fields.first(named: name, body)
    }
}

/// One header field.
public struct HTTP2Header: Sendable, Hashable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}
