/// What a connection tells its pool. Every call arrives on the connection's event loop.
protocol HTTP2ConnectionDelegate: AnyObject, Sendable {
    /// The TLS handshake is done, ALPN chose h2, and the server's first SETTINGS arrived.
    func connectionReady(_ connectionID: Int, maxStreams: Int)
    /// Moves up to `max` queued exchanges into `batch` for this connection to send. Returns `true` when fewer
    /// than `max` were given and more are queued (the rest is shared with other connections): the connection
    /// comes back for more after sending these.
    func dequeue(for connectionID: Int, max: Int, into batch: inout [any HTTP2Exchange]) -> Bool
    /// The connection will open no more streams (GOAWAY received or stream ids exhausted).
    func connectionGoingAway(_ connectionID: Int, _ reason: HTTP2ConnectionEnd)
    /// Streams the server refused (or that could not be opened) while the connection stays up: they never
    /// reached the server and may be sent anywhere.
    func connectionReturned(_ connectionID: Int, unsent: [any HTTP2Exchange])
    /// The connection is gone. `unsent` never reached the server and may be sent elsewhere.
    func connectionClosed(_ connectionID: Int, _ reason: HTTP2ConnectionEnd, unsent: [any HTTP2Exchange])
}
