import APNs
import HTTP2Engine
import NIOCore

/// Whether the gateway can deliver: the answer of `/readyz`.
///
/// An app is ready when one of its connections to APNs is ready. An app that had a ready connection and lost it
/// still counts as ready while it reconnects within its budget (the daemon uses `timeouts.connectSeconds`): a
/// GOAWAY or a dropped connection is followed by a reconnect within milliseconds, and readiness should not flap
/// for that. An app that has never connected, or whose reconnects have failed for longer than the budget, is
/// not ready.
public struct Readiness: Sendable, Hashable {
    /// What readiness looks at for one app.
    public struct AppState: Sendable, Hashable {
        public var name: String
        public var readyConnections: Int
        public var connectionsBackingOff: Int
        /// True once any connection of the app has been ready.
        public var everReady: Bool
        /// Since when the app has had no ready connection.
        public var unavailableSince: NIODeadline?
        /// Why the last connection ended, for the message.
        public var lastEnd: String?

        public init(
            name: String, readyConnections: Int, connectionsBackingOff: Int = 0, everReady: Bool,
            unavailableSince: NIODeadline?, lastEnd: String? = nil
        ) {
            self.name = name
            self.readyConnections = readyConnections
            self.connectionsBackingOff = connectionsBackingOff
            self.everReady = everReady
            self.unavailableSince = unavailableSince
            self.lastEnd = lastEnd
        }

        /// The state of an app from its client's figures.
        public init(name: String, statistics: APNsClientStatistics) {
            let pool = statistics.pool
            self.init(
                name: name, readyConnections: pool.ready, connectionsBackingOff: pool.backingOff, everReady: pool.everReady,
                unavailableSince: pool.unavailableSince, lastEnd: pool.lastEnd.map { "\($0)" })
        }
    }

    /// True when every app is ready.
    public var isReady: Bool { problems.isEmpty }
    /// One plain sentence per app that is not ready.
    public var problems: [String]

    /// Judges `apps` at `now`, allowing each app `budget` without a ready connection after it lost its last one.
    public static func evaluate(_ apps: [AppState], budget: TimeAmount, now: NIODeadline = .now()) -> Readiness {
        var problems: [String] = []
        for app in apps where app.readyConnections == 0 {
            let last = app.lastEnd.map { "; last: \($0)" } ?? ""
            guard app.everReady else {
                let state = app.connectionsBackingOff > 0 ? "backing off" : "connecting"
                problems.append("app \(app.name): not connected to APNs yet (\(state)\(last))")
                continue
            }
            let down = now - (app.unavailableSince ?? now)
            if down < budget { continue }
            let tenths = down.nanoseconds / 100_000_000
            problems.append("app \(app.name): no ready connection to APNs for \(tenths / 10).\(tenths % 10) s\(last)")
        }
        return Readiness(problems: problems)
    }

    /// Judges apps from their clients' figures.
    public static func evaluate(
        apps: [(name: String, stats: APNsClientStatistics)], budget: TimeAmount, now: NIODeadline = .now()
    ) -> Readiness {
        evaluate(apps.map { AppState(name: $0.name, statistics: $0.stats) }, budget: budget, now: now)
    }

    /// The body of a `/readyz` answer.
    public var text: String {
        isReady ? "ready\n" : problems.joined(separator: "\n") + "\n"
    }
}
