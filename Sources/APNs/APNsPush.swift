import APNsCore
import HTTP2Engine
import NIOCore

/// One notification on its way through the pool: the engine's exchange and the retry loop around it.
///
/// Ownership passes hand to hand (the client, the pool's queue, one connection's event loop, a retry timer),
/// so exactly one party touches the mutable fields at a time, and each hand-over goes through a lock or an
/// event-loop hop that orders memory. That is why the class is `@unchecked Sendable`.
final class APNsPush: HTTP2Exchange, @unchecked Sendable {
    private(set) var notification: APNsNotification
    let deadline: NIODeadline
    /// When the client accepted the notification.
    let acceptedAt: NIODeadline
    /// When the current attempt entered the pool's queue.
    var enqueuedAt: NIODeadline
    private let client: APNsClient
    /// When the first attempt was written, if APNs answered it (uptime 0 otherwise).
    private var firstSentAt = NIODeadline.uptimeNanoseconds(0)
    private let completion: Completion
    private var attempts = APNsAttempts()

    init(
        notification: consuming APNsNotification, acceptedAt: NIODeadline, deadline: NIODeadline, client: APNsClient,
        completion: Completion
    ) {
        self.notification = notification
        self.acceptedAt = acceptedAt
        self.enqueuedAt = acceptedAt
        self.deadline = deadline
        self.client = client
        self.completion = completion
    }

    var requestBody: ByteBuffer { notification.payload }

    func writeHeaders(into writer: inout HTTP2HeaderWriter) {
        writer.add(":method", "POST" as StaticString)
        writer.add(":scheme", "https" as StaticString)
        writer.add(":authority", client.authority)
        let token = notification.token
        writer.add(":path", prefix: "/3/device/", writing: token.utf8Count) { token.writeHex(into: $0) }
        if let authorization = attempts.authorization(from: client) {
            writer.add("authorization", authorization)
        }
        writer.add("apns-push-type", notification.pushType.rawValue)
        writer.add("apns-topic", notification.topic)
        if let priority = notification.priority {
            writer.add("apns-priority", decimal: Int64(priority.rawValue))
        }
        if let expiration = notification.expiration {
            writer.add("apns-expiration", decimal: expiration)
        }
        if let collapseID = notification.collapseID {
            writer.add("apns-collapse-id", collapseID)
        }
        if let apnsID = notification.apnsID {
            writer.add("apns-id", apnsID.utf8.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) ? apnsID.lowercased() : apnsID)
        }
    }

    func complete(_ result: Result<HTTP2Response, HTTP2Error>) {
        if case .success(let response) = result {
            // The response carries its times (the engine reads the clock per write and per read batch).
            client.recordTimings(enqueuedAt: enqueuedAt, sentAt: response.sentAt, receivedAt: response.receivedAt)
            if attempts.count == 0 { firstSentAt = response.sentAt }
        }
        switch attempts.next(after: result, client: client, expiration: notification.expiration, deadline: deadline) {
        case .answered(let response, let http):
            var result = APNsResult(
                source: .apns, status: response.status, reason: response.reason?.rawValue, timestamp: response.timestamp,
                attempts: attempts.count, retriedAfterUnknownOutcome: attempts.retriedAfterUnknownOutcome
            )
            result.apnsIdentifier = response.apnsIdentifier
            result.apnsUniqueIdentifier = response.apnsUniqueIdentifier
            finish(result, .apns(status: response.status, reason: response.reason), at: http.receivedAt)
        case .gaveUp(let code, let detail, let answer):
            finish(.gateway(code, detail, attempts: attempts.count, uncertain: attempts.retriedAfterUnknownOutcome),
                   .gateway(code), at: answer?.1.receivedAt)
        case .failed(let code, let detail, let count, let uncertain):
            finish(.gateway(code, detail, attempts: count, uncertain: uncertain), .gateway(code))
        case .retry(let wait):
            client.retry(self, after: wait)
        }
    }

    /// Before a retry: a payload that is a slice of a larger buffer (the intake copies a request's payloads into
    /// one) gets storage of its own, so that a notification waiting to be retried does not keep the payloads of
    /// its request's other notifications in memory after they are answered.
    func detachPayload() {
        let payload = notification.payload
        guard payload.storageCapacity > 2 * payload.readableBytes + 1024 else { return }
        var copy = ByteBufferAllocator().buffer(capacity: payload.readableBytes)
        copy.writeImmutableBuffer(payload)
        notification.replacePayload(withCopy: copy)
    }

    /// Hands over the final result. `at` is when it became known, if the caller has that time already (an
    /// APNs answer); otherwise the clock is read.
    private func finish(_ result: APNsResult, _ slot: APNsOutcomeCounters.Slot, at: NIODeadline? = nil) {
        let known = at ?? .now()
        client.finished(result, slot: slot, after: known - acceptedAt, bytes: APNsClient.outstandingBytes(notification))
        if result.status != 200 { client.logFailure(result, token: notification.deviceToken) }
        completion.deliver(result, APNsResultTimes(firstSentAt: firstSentAt, knownAt: known))
    }

    /// Where the final result goes: a closure, or a receiver with the notification's index (no allocation per
    /// notification; see ``APNsResultReceiver``).
    enum Completion: Sendable {
        case closure(@Sendable (APNsResult, APNsResultTimes) -> Void)
        case receiver(any APNsResultReceiver, Int)

        @inline(__always)
        func deliver(_ result: APNsResult, _ times: APNsResultTimes) {
            switch self {
            case .closure(let body): body(result, times)
            case .receiver(let receiver, let index): receiver.receive(result, times: times, index: index)
            }
        }
    }
}
