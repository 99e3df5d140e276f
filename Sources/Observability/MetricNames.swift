import Prometheus

/// The gateway's Prometheus metrics: names, types and help texts, in one place (docs/operations.md lists the
/// same, with a query for each).
enum MetricName {
    struct Family {
        let name: String
        let help: String

        /// The name as swift-prometheus takes it (the whole name, no separate unit).
        var descriptor: MetricNameDescriptor {
            MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
        }
    }

    // MARK: Notifications (per app)
    static let accepted = Family(name: "apns_gateway_notifications_accepted_total", help: "Notifications handed to the app's APNs client.")
    static let sent = Family(name: "apns_gateway_notifications_sent_total", help: "Notifications whose final result APNs gave (any status).")
    static let succeeded = Family(name: "apns_gateway_notifications_succeeded_total", help: "Notifications APNs accepted (status 200).")
    static let failed = Family(name: "apns_gateway_notifications_failed_total", help: "Notifications that failed after acceptance, by source (apns or gateway), APNs status and reason.")
    static let localRejections = Family(name: "apns_gateway_local_rejections_total", help: "Notifications rejected before sending, by reason; app is empty for those the intake refused before choosing an app.")
    static let retries = Family(name: "apns_gateway_retries_total", help: "Attempts sent again (after a retryable answer, a lost connection or an expired provider token).")
    static let attemptFailures = Family(name: "apns_gateway_attempt_failures_total", help: "Attempts that ended without an APNs answer (lost connection, reset stream, deadline).")
    static let tokenRefreshes = Family(name: "apns_gateway_token_refreshes_total", help: "Provider tokens (JWT) signed.")
    static let outstanding = Family(name: "apns_gateway_outstanding", help: "Notifications accepted and not yet answered (queued, in flight or waiting to retry).")
    static let maxOutstanding = Family(name: "apns_gateway_max_outstanding", help: "The configured bound on outstanding notifications (pool.maxOutstanding).")
    static let outstandingBytes = Family(name: "apns_gateway_outstanding_bytes", help: "The bytes outstanding notifications count against pool.maxOutstandingBytes (payloads plus an estimated overhead each).")
    static let maxOutstandingBytes = Family(name: "apns_gateway_max_outstanding_bytes", help: "The configured bound on the bytes of outstanding notifications (pool.maxOutstandingBytes).")

    // MARK: Connections (per app)
    static let connectionsOpened = Family(name: "apns_gateway_connections_opened_total", help: "Connects started to APNs.")
    static let connectionsClosed = Family(name: "apns_gateway_connections_closed_total", help: "Connections to APNs that ended, by reason (goaway, transport, tls, alpn, timeout, protocol, local); includes failed connects.")
    static let connectionsFailed = Family(name: "apns_gateway_connections_failed_total", help: "Connects that ended before the connection was ready, by reason.")
    static let goAways = Family(name: "apns_gateway_goaway_total", help: "GOAWAY frames received from APNs, by HTTP/2 error code and APNs reason.")
    static let backoffs = Family(name: "apns_gateway_reconnect_backoffs_total", help: "Reconnects that waited a back-off delay after a failed connect.")
    static let connections = Family(name: "apns_gateway_connections", help: "Connections to APNs by state (connecting, ready, backing_off, draining).")
    static let inFlight = Family(name: "apns_gateway_streams_in_flight", help: "HTTP/2 streams open to APNs.")
    static let queueDepth = Family(name: "apns_gateway_queue_depth", help: "Notifications waiting in the pool's queue for a free stream.")
    static let streamLimit = Family(name: "apns_gateway_stream_limit", help: "The stream limit of each ready connection (the server's SETTINGS_MAX_CONCURRENT_STREAMS capped by pool.maxConcurrentStreams), by pool slot.")
    static let streamCapacity = Family(name: "apns_gateway_stream_capacity", help: "The sum of the ready connections' stream limits: how many notifications can be in flight at once.")
    static let serverWindow = Family(name: "apns_gateway_server_window_bytes", help: "The connection-level flow-control window APNs announced to each ready connection, in bytes: at most this many request-body bytes are on their way per connection at once (0 while not ready).")

    // MARK: Durations (per app)
    static let apnsLatency = Family(name: "apns_gateway_apns_latency_seconds", help: "From writing a request to reading APNs's response, per answered attempt.")
    static let queueWait = Family(name: "apns_gateway_queue_wait_seconds", help: "From entering the pool's queue to being written, per answered attempt.")
    static let endToEnd = Family(name: "apns_gateway_end_to_end_seconds", help: "From acceptance to the final result, per notification (local rejections count as zero).")

    // MARK: Added latency (the intake's, over all apps)
    static let addedInbound = Family(name: "apns_gateway_added_inbound_seconds", help: "Time the gateway adds before APNs, per notification: from reading the bytes that completed its request line to its first write to APNs (notifications whose first attempt APNs answered).")
    static let addedOutbound = Family(name: "apns_gateway_added_outbound_seconds", help: "Time the gateway adds after APNs, per notification: from reading the answer that completed its batch to writing the batch's reply.")
    static let added = Family(name: "apns_gateway_added_seconds", help: "Inbound plus outbound time the gateway adds, per notification with both.")
    static let batchWait = Family(name: "apns_gateway_batch_wait_seconds", help: "From a notification's result to the last result of its send request: how long its reply waits for its siblings (batching, not overhead).")

    // MARK: Intake
    static let intakeConnections = Family(name: "apns_gateway_intake_connections", help: "Intake connections open.")
    static let intakeConnectionsAccepted = Family(name: "apns_gateway_intake_connections_accepted_total", help: "Intake connections accepted.")
    static let intakeConnectionsRejected = Family(name: "apns_gateway_intake_connections_rejected_total", help: "Intake connections refused for being over intake.maxConnections.")
    static let intakeRequests = Family(name: "apns_gateway_intake_requests_total", help: "Request lines read from the intake socket.")
    static let intakeBytes = Family(name: "apns_gateway_intake_bytes_total", help: "Bytes read from the intake socket.")
    static let intakeNotifications = Family(name: "apns_gateway_intake_notifications_total", help: "Notifications in send requests.")
    static let intakeOperations = Family(name: "apns_gateway_intake_operations_total", help: "Extension-op requests (Live Activity ops) accepted.")
    static let intakePending = Family(name: "apns_gateway_intake_pending_requests", help: "Send and extension-op requests accepted and not yet answered.")
    static let intakeErrors = Family(name: "apns_gateway_intake_errors_total", help: "Error replies written by the intake, by code.")

    // MARK: Live Activities (per app, but for the op latency and pruning)
    static let scheduledEnds = Family(name: "apns_gateway_scheduled_ends_total", help: "Scheduled Live Activity ends settled, by app and outcome: done (some token got 200, or no token to send to), failed (refused for every token, or not sendable), deferred (no answer from APNs: back to pending); taken_over counts ends claimed after another gateway's lease ran out (possibly sent twice).")

    static let scheduledEndsByState = Family(name: "apns_gateway_scheduled_ends_by_state", help: "Scheduled Live Activity ends in the registry by app and state (pending, firing, done, failed, cancelled), counted every 10 s.")
    static let fanOutTokens = Family(name: "apns_gateway_live_activity_fanout_tokens", help: "Tokens one Live Activity push request goes to, by app and event (start, update, end).")
    static let tokensRetired = Family(name: "apns_gateway_live_activity_tokens_retired_total", help: "Live Activity tokens retired in the registry after APNs reported them dead, by app and reason.")
    static let operationLatency = Family(name: "apns_gateway_live_activity_op_seconds", help: "From a Live Activity request to its reply, by op.")
    static let priorityPushes = Family(name: "apns_gateway_live_activity_priority_pushes_total", help: "Priority-10 Live Activity pushes, one per activity per request that sent to it, by app.")
    static let overBudget = Family(name: "apns_gateway_live_activity_over_budget_total", help: "Priority-10 pushes to an activity beyond liveActivities.priorityBudgetPerHour within its hour, by app: Apple may throttle those activities.")
    static let pruned = Family(name: "apns_gateway_live_activity_pruned_total", help: "Ended activities and their tokens removed after liveActivities.endedRetentionSeconds, by kind (activities, tokens).")
    static let broadcasts = Family(name: "apns_gateway_broadcasts_total", help: "Broadcast pushes to Live Activity channels with a final result, by app and result: 200, or the APNs, local or gateway reason.")
    static let broadcastChannels = Family(name: "apns_gateway_broadcast_channels", help: "Broadcast channels the registry holds, by app and environment, as of the last channel op.")

    /// Every family, for checks that what refers to them (docs, the Grafana dashboard) names real ones.
    static let all: [Family] = [
        accepted,
        sent,
        succeeded,
        failed,
        localRejections,
        retries,
        attemptFailures,
        tokenRefreshes,
        outstanding,
        maxOutstanding,
        outstandingBytes,
        maxOutstandingBytes,
        connectionsOpened,
        connectionsClosed,
        connectionsFailed,
        goAways,
        backoffs,
        connections,
        inFlight,
        queueDepth,
        streamLimit,
        streamCapacity,
        serverWindow,
        apnsLatency,
        queueWait,
        endToEnd,
        addedInbound,
        addedOutbound,
        added,
        batchWait,
        intakeConnections,
        intakeConnectionsAccepted,
        intakeConnectionsRejected,
        intakeRequests,
        intakeBytes,
        intakeNotifications,
        intakeOperations,
        intakePending,
        intakeErrors,
        scheduledEnds,
        scheduledEndsByState,
        fanOutTokens,
        tokensRetired,
        operationLatency,
        priorityPushes,
        overBudget,
        pruned,
        broadcasts,
        broadcastChannels,
    ]
    /// The histogram families (exposed as `_bucket`, `_sum` and `_count` series).
    static let histograms: [Family] = [
        apnsLatency, queueWait, endToEnd, addedInbound, addedOutbound, added, batchWait, fanOutTokens, operationLatency,
    ]
    /// The families without an `app` label: the intake's, and the Live Activity ops' latency and pruning.
    static let withoutApp: Set<String> = Set(
        [
            intakeConnections, intakeConnectionsAccepted, intakeConnectionsRejected, intakeRequests, intakeBytes,
            intakeNotifications, intakeOperations, intakePending, intakeErrors, operationLatency, pruned,
            addedInbound, addedOutbound, added, batchWait,
        ].map(\.name))
}
