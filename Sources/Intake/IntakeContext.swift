import APNs
import NIOConcurrencyHelpers
import NIOCore
import Synchronization

/// What every intake connection shares: the configuration, the routes to the apps' clients, and the
/// intake's own counters (lock-free).
final class IntakeContext: Sendable {
    let configuration: IntakeConfiguration
    let routes: IntakeRoutes
    let openConnections = Synchronization.Atomic<Int>(0)
    let acceptedConnections = Synchronization.Atomic<Int>(0)
    let rejectedConnections = Synchronization.Atomic<Int>(0)
    let requests = Synchronization.Atomic<Int>(0)
    let notifications = Synchronization.Atomic<Int>(0)
    /// `send` requests accepted and not yet answered, over all connections.
    let pendingRequests = Synchronization.Atomic<Int>(0)
    private let errorCounts = NIOLockedValueBox<[String: Int]>([:])

    init(configuration: IntakeConfiguration, routes: IntakeRoutes) {
        self.configuration = configuration
        self.routes = routes
    }

    func countError(_ code: IntakeErrorCode) {
        errorCounts.withLockedValue { $0[code.rawValue, default: 0] += 1 }
    }

    /// The `stats` reply.
    func writeStats(id: ByteBuffer, into buffer: ByteBuffer) -> ByteBuffer {
        var writer = JSONObjectWriter(buffer: buffer)
        writer.begin()
        writer.raw("id", id)
        writer.begin("stats")
        writer.begin("intake")
        writer.field("connections", openConnections.load(ordering: .relaxed))
        writer.field("connectionsAccepted", acceptedConnections.load(ordering: .relaxed))
        writer.field("connectionsRejected", rejectedConnections.load(ordering: .relaxed))
        writer.field("requests", requests.load(ordering: .relaxed))
        writer.field("notifications", notifications.load(ordering: .relaxed))
        writer.field("pendingRequests", pendingRequests.load(ordering: .relaxed))
        writer.begin("errors")
        for (code, count) in errorCounts.withLockedValue({ $0 }).sorted(by: { $0.key < $1.key }) {
            writer.field(code, count)
        }
        writer.end()
        writer.end()
        writer.begin("apps")
        for (name, client) in routes.clients {
            let stats = client.statistics
            writer.begin(name)
            writer.field("accepted", stats.accepted)
            writer.field("sent", stats.answeredByAPNs)
            writer.field("succeeded", stats.succeeded)
            writer.field("rejectedLocally", stats.rejectedLocally)
            writer.field("failedInGateway", stats.failedInGateway)
            writer.field("retries", stats.retries)
            writer.field("attemptFailures", stats.attemptFailures)
            writer.field("outstanding", stats.outstanding)
            writer.field("inFlight", stats.pool.inFlight)
            writer.field("queued", stats.pool.queued)
            writer.field("tokenRefreshes", stats.tokenRefreshes)
            writer.begin("byOutcome")
            for (outcome, count) in stats.byOutcome.sorted(by: { $0.key < $1.key }) {
                writer.field(outcome, count)
            }
            writer.end()
            writer.begin("connections")
            writer.field("connecting", stats.pool.connecting)
            writer.field("ready", stats.pool.ready)
            writer.field("backingOff", stats.pool.backingOff)
            writer.field("draining", stats.pool.draining)
            writer.field("opened", stats.pool.connectionsOpened)
            writer.field("streamLimits", stats.pool.streamLimits)
            writer.end()
            writer.end()
        }
        writer.end()
        writer.end()
        writer.end()
        var buffer = writer.buffer
        buffer.writeInteger(UInt8(ascii: "\n"))
        return buffer
    }
}
