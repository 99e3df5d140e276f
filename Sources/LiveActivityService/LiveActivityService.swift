import APNs
import Foundation
import APNsCore
import IntakeOps
import JSON
import LiveActivity
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// The Live Activity ops of the intake protocol (docs/live-activities.md): token registration, push-to-start,
/// updates and ends fanned out to an activity's registered tokens (or sent as one broadcast to a channel),
/// broadcast channel management, scheduled ends and lifecycle mapping.
///
/// Give ``operations`` to ``IntakeServer/start(configuration:apps:defaultApp:operations:group:logger:)``; start
/// the scheduled-end loop with ``startScheduler()``.
///
/// Threading: requests run in tasks the intake starts. Registry calls are blocking SQLite and run on the
/// service's own thread pool, never on an event loop or the cooperative pool; pushes go through the apps'
/// ``APNsClient``s with their bound on outstanding notifications, so a large fan-out waits for room instead
/// of queueing without bound.
///
/// Shutdown order: ``stopScheduler()`` (a claimed end is still sent), then the intake (it waits for running
/// requests and shuts the clients down), then ``close()``.
public final class LiveActivityService: Sendable {
    /// Every op this service handles.
    public static let operationNames = [
        "activity.register", "activity.unregister", "activity.register_push_to_start",
        "activity.unregister_push_to_start", "activity.start", "activity.update", "activity.end",
        "activity.schedule_end", "activity.cancel_scheduled_end", "activity.resend_scheduled_end", "activity.lifecycle",
        "channel.create", "channel.get", "channel.delete", "channel.list", "channel.bind",
    ]

    let registry: any LiveActivityRegistry
    let apps: APNsApps
    let configuration: LiveActivityServiceConfiguration
    let logger: Logger
    /// Epoch seconds.
    let clock: @Sendable () -> Int64
    private let threadPool: NIOThreadPool
    let scheduler: EndScheduler
    let scheduledEndCounter = ScheduledEndCounter()
    let metrics: LiveActivityMetrics
    let housekeepingTimes = NIOLockedValueBox(HousekeepingTimes())
    /// Channels the registry holds, by app and environment, as of the last channel op that counted them.
    let channelCountBox = NIOLockedValueBox<[ChannelCountKey: Int]>([:])

    /// An app (its configured name) and environment, the key of ``channelCounts``.
    public struct ChannelCountKey: Sendable, Hashable {
        public var app: String
        public var environment: String
    }

    /// The broadcast channels the registry holds, by app and environment, as of the last `channel.create`,
    /// `channel.delete` or `channel.list` (or retirement) for that app.
    public var channelCounts: [ChannelCountKey: Int] {
        channelCountBox.withLockedValue { $0 }
    }

    /// How many claimed scheduled ends were settled, by app and outcome, since the service started.
    public var scheduledEndStatistics: ScheduledEndStatistics {
        scheduledEndCounter.snapshot
    }

    /// Every figure the service keeps (the scheduled-end counts included), for the metrics exporter.
    public var statistics: LiveActivityStatistics {
        metrics.snapshot(scheduledEnds: scheduledEndCounter.snapshot)
    }

    /// Creates the service. `clock` gives epoch seconds (tests inject their own); `registry` stays the caller's
    /// to close, after ``close()``.
    public init(
        registry: any LiveActivityRegistry,
        apps: [APNsApp],
        defaultApp: String? = nil,
        configuration: LiveActivityServiceConfiguration = LiveActivityServiceConfiguration(),
        group: any EventLoopGroup,
        logger: Logger = Logger(label: "apns.live-activity"),
        clock: @escaping @Sendable () -> Int64 = wallClockSeconds
    ) {
        self.registry = registry
        self.apps = APNsApps(apps, defaultApp: defaultApp)
        self.configuration = configuration
        self.logger = logger
        self.clock = clock
        // As many threads as the registry serves calls at once: one for SQLite (it serialises its calls anyway),
        // the connection pool's size for PostgreSQL.
        let threadPool = NIOThreadPool(numberOfThreads: max(1, min(registry.concurrentCalls, 64)))
        threadPool.start()
        self.threadPool = threadPool
        self.scheduler = EndScheduler(interval: configuration.schedulerInterval, eventLoop: group.next(), logger: logger)
        self.metrics = LiveActivityMetrics(
            operations: Self.operationNames, priorityBudgetPerHour: configuration.priorityBudgetPerHour)
    }

    /// The intake operations, by op name.
    public var operations: [String: any IntakeOperation] {
        var table: [String: any IntakeOperation] = [:]
        for name in Self.operationNames {
            table[name] = ServiceOperation(service: self)
        }
        return table
    }

    /// Operations that answer every Live Activity op with `LiveActivitiesDisabled` and `message`.
    public static func disabledOperations(message: String) -> [String: any IntakeOperation] {
        var table: [String: any IntakeOperation] = [:]
        for name in operationNames {
            table[name] = DisabledOperation(message: message)
        }
        return table
    }

    /// Handles one request; the intake calls this through ``operations``.
    public func handle(_ intakeRequest: IntakeRequest) async -> IntakeReply {
        let op = intakeRequest.op
        let started = NIODeadline.now()
        defer { metrics.operationLatency[op]?.record(NIODeadline.now() - started) }
        do {
            var request = RequestObject(intakeRequest)
            var reply = IntakeReply()
            switch op {
            case "activity.register": try await register(&request, into: &reply.writer)
            case "activity.unregister": try await unregister(&request, into: &reply.writer)
            case "activity.register_push_to_start": try await registerPushToStart(&request, into: &reply.writer)
            case "activity.unregister_push_to_start": try await unregisterPushToStart(&request, into: &reply.writer)
            case "activity.start": try await start(&request, into: &reply.writer)
            case "activity.update": try await update(&request, into: &reply.writer)
            case "activity.end": try await end(&request, into: &reply.writer)
            case "activity.schedule_end": try await scheduleEnd(&request, into: &reply.writer)
            case "activity.cancel_scheduled_end": try await cancelScheduledEnd(&request, into: &reply.writer)
            case "activity.resend_scheduled_end": try await resendScheduledEnd(&request, into: &reply.writer)
            case "activity.lifecycle": try await lifecycle(&request, into: &reply.writer)
            case "channel.create": try await createChannel(&request, into: &reply.writer)
            case "channel.get": try await getChannel(&request, into: &reply.writer)
            case "channel.delete": try await deleteChannel(&request, into: &reply.writer)
            case "channel.list": try await listChannels(&request, into: &reply.writer)
            case "channel.bind": try await bindChannel(&request, into: &reply.writer)
            default: throw LiveActivityServiceError.badRequest("unknown op \(RequestObject.shown(op))")
            }
            return reply
        } catch let error as LiveActivityServiceError {
            return error.reply
        } catch {
            return LiveActivityServiceError(.registryError, "\(error)").reply
        }
    }

    // MARK: Scheduler and shutdown

    /// Starts the loop that sends scheduled ends when they are due (every ``LiveActivityServiceConfiguration/
    /// schedulerInterval``, and at once after an end is scheduled for now).
    public func startScheduler() {
        scheduler.start { [self] in await firePass().deferred }
        Task { await reportUnconfirmedEnds() }
    }

    /// Stops the scheduler; an end it has claimed is still sent and confirmed first.
    public func stopScheduler() async {
        await scheduler.stop()
    }

    /// Stops the scheduler and the registry's thread pool. Requests after this are answered `ShuttingDown`.
    public func close() async {
        await scheduler.stop()
        try? await threadPool.shutdownGracefully()
    }

    // MARK: Helpers for the ops

    /// Runs blocking registry work on the service's thread pool.
    func withRegistry<T: Sendable>(
        _ body: @escaping @Sendable (any LiveActivityRegistry) throws -> T
    ) async throws(LiveActivityServiceError) -> T {
        let registry = self.registry
        let outcome: Result<T, any Error>
        do {
            outcome = try await threadPool.runIfActive { () -> Result<T, any Error> in
                Result { try body(registry) }
            }
        } catch {
            throw LiveActivityServiceError(.shuttingDown, "the Live Activity service is shutting down")
        }
        switch outcome {
        case .success(let value):
            return value
        case .failure(let error as LiveActivityRegistryError):
            throw .registry(error)
        case .failure(let error as LiveActivityServiceError):
            throw error
        case .failure(let error):
            throw LiveActivityServiceError(.registryError, "\(error)")
        }
    }

    /// The app a request names in `app`, or the default app.
    func app(_ request: inout RequestObject) throws(LiveActivityServiceError) -> APNsApp {
        let name = try request.string("app")
        do {
            return try apps.app(named: name)
        } catch {
            throw LiveActivityServiceError(.unknownApp, error.description, field: "app")
        }
    }

    func app(forBundleID bundleID: String) -> APNsApp? {
        apps.app(forBundleID: bundleID)
    }

    private func reportUnconfirmedEnds() async {
        // With leases (PostgreSQL) an end left firing is another gateway's in-flight claim, or is taken over once
        // its lease runs out: nothing for an operator to do.
        guard !registry.claimsAreLeases else { return }
        guard let firing = try? await withRegistry({ try $0.scheduledEnds(state: .firing) }), !firing.isEmpty else {
            return
        }
        // Claimed by an earlier run that stopped before confirming: sent at most once, so not sent again unless
        // an operator asks for it (activity.resend_scheduled_end).
        logger.warning(
            "scheduled ends were claimed but never confirmed sent; they are not sent again unless resent with activity.resend_scheduled_end",
            metadata: ["count": "\(firing.count)", "ids": "\(firing.prefix(20).map(\.id).joined(separator: ","))"])
    }
}

/// Epoch seconds from the system's wall clock.
@Sendable public func wallClockSeconds() -> Int64 {
    Int64(Date().timeIntervalSince1970.rounded(.down))
}

/// Hands intake requests to the service.
struct ServiceOperation: IntakeOperation {
    let service: LiveActivityService

    func handle(_ request: IntakeRequest) async -> IntakeReply {
        await service.handle(request)
    }
}

/// Answers `LiveActivitiesDisabled`.
struct DisabledOperation: IntakeOperation {
    let message: String

    func handle(_ request: IntakeRequest) async -> IntakeReply {
        LiveActivityServiceError(.disabled, message).reply
    }
}
