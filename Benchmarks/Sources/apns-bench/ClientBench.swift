import APNs
import APNsCore
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// The APNs client: validation, provider token, retry bookkeeping and results on top of the engine.
struct ClientBench {
    let options: BenchOptions
    let payload: ByteBuffer
    let group: MultiThreadedEventLoopGroup
    let recorder: LatencyRecorder

    final class Driver: WindowedDriver, Sendable {
        let client: APNsClient
        let payload: ByteBuffer
        let total: Int
        let recorder: LatencyRecorder
        let completion: Completion
        private let next = NIOLockedValueBox(0)

        init(client: APNsClient, payload: ByteBuffer, total: Int, recorder: LatencyRecorder) {
            self.client = client
            self.payload = payload
            self.total = total
            self.recorder = recorder
            self.completion = Completion(total: total)
        }

        func submit(_ count: Int) {
            for _ in 0..<count {
                let index: Int? = next.withLockedValue { next in
                    guard next < total else { return nil }
                    defer { next += 1 }
                    return next
                }
                guard let index else { return }
                let started = NIODeadline.now()
                let notification = APNsNotification(
                    deviceToken: BenchOptions.token, payload: payload, pushType: .alert, topic: "com.example.app",
                    priority: .immediate, expiration: 0
                )
                let accepted = client.trySend(notification) { [self] result in
                    let micros = (NIODeadline.now() - started).nanoseconds / 1000
                    recorder.record(index, microseconds: UInt64(max(0, micros)))
                    completion.finish(success: (result.status ?? 500) < 500)
                    submit(1)
                }
                precondition(accepted, "the window is smaller than the client's bound")
            }
        }
    }

    func run() async throws -> BenchReport {
        let tokens = try APNsProviderTokenCache(
            key: APNsSigningKey(contentsOfFile: options.keyFile), keyID: "TESTKEY123", teamID: "TEAM123456"
        )
        let client = try APNsClient(
            configuration: APNsClientConfiguration(
                environment: .custom(host: options.host, port: options.port, serverName: options.serverName, caFile: options.caFile),
                authentication: .token(tokens),
                connectionCount: options.connections,
                maxOutstanding: options.window * 2,
                // The bench's window bounds its outstanding work; the byte bound must not refuse within it.
                maxOutstandingBytes: options.window * 2 * (payload.readableBytes + 512),
                requestTimeout: .seconds(60)
            ),
            group: group
        )
        client.start()
        try await client.waitUntilReady()
        let report = await measure(mode: "client", options: options, payloadSize: payload.readableBytes, recorder: recorder) {
            Driver(client: client, payload: payload, total: $0, recorder: $1)
        }
        await client.shutdown()
        return report
    }
}
