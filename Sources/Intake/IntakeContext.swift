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
    let bytesReceived = Synchronization.Atomic<Int>(0)
    let notifications = Synchronization.Atomic<Int>(0)
    /// `send` requests accepted and not yet answered, over all connections.
    let pendingRequests = Synchronization.Atomic<Int>(0)
    /// Error replies, by the position of their code in `IntakeErrorCode.allCases`.
    private let errorCounts = AtomicCounterArray(count: IntakeErrorCode.allCases.count)
    /// Notifications refused by the intake itself, by `IntakeRejectionReason`.
    private let rejectionCounts = AtomicCounterArray(count: IntakeRejectionReason.allCases.count)

    init(configuration: IntakeConfiguration, routes: IntakeRoutes) {
        self.configuration = configuration
        self.routes = routes
    }

    func countError(_ code: IntakeErrorCode) {
        errorCounts.add(IntakeErrorCode.allCases.firstIndex(of: code)!)
    }

    func countRejection(_ reason: String) {
        rejectionCounts.add(IntakeRejectionReason(reason).rawValue)
    }

    var statistics: IntakeStatistics {
        var errors: [String: Int] = [:]
        for (index, count) in errorCounts.loadAll().enumerated() where count > 0 {
            errors[IntakeErrorCode.allCases[index].rawValue] = count
        }
        var rejections: [String: Int] = [:]
        for (index, count) in rejectionCounts.loadAll().enumerated() where count > 0 {
            rejections[IntakeRejectionReason.allCases[index].name] = count
        }
        return IntakeStatistics(
            connections: openConnections.load(ordering: .relaxed),
            connectionsAccepted: acceptedConnections.load(ordering: .relaxed),
            connectionsRejected: rejectedConnections.load(ordering: .relaxed),
            requests: requests.load(ordering: .relaxed),
            bytes: bytesReceived.load(ordering: .relaxed),
            notifications: notifications.load(ordering: .relaxed),
            pendingRequests: pendingRequests.load(ordering: .relaxed),
            errors: errors,
            rejections: rejections
        )
    }

    /// The `stats` reply: the same figures the Prometheus metrics show, read from the same counters.
    func writeStats(id: ByteBuffer, into buffer: ByteBuffer) -> ByteBuffer {
        var writer = JSONObjectWriter(buffer: buffer)
        writer.begin()
        writer.raw("id", id)
        writer.begin("stats")
        writer.intake(statistics)
        writer.begin("apps")
        for (name, client) in routes.clients {
            writer.app(name, client.statistics)
        }
        writer.end()
        writer.end()
        writer.end()
        var buffer = writer.buffer
        buffer.writeInteger(UInt8(ascii: "\n"))
        return buffer
    }
}
