import HTTP2Engine
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// The engine alone: HTTP2ConnectionPool with a minimal exchange carrying the APNs request shape.
struct EngineBench {
    let options: BenchOptions
    let payload: ByteBuffer
    let group: MultiThreadedEventLoopGroup
    let recorder: LatencyRecorder

    final class Push: HTTP2Exchange, @unchecked Sendable {
        let index: Int
        let started: NIODeadline
        let deadline: NIODeadline
        let requestBody: ByteBuffer
        let bench: Driver

        init(index: Int, body: ByteBuffer, bench: Driver) {
            self.index = index
            self.started = .now()
            self.deadline = started + .seconds(60)
            self.requestBody = body
            self.bench = bench
        }

        func writeHeaders(into writer: inout HTTP2HeaderWriter) {
            writer.add(":method", "POST" as StaticString)
            writer.add(":scheme", "https" as StaticString)
            writer.add(":authority", bench.authority)
            writer.add(":path", prefix: "/3/device/", BenchOptions.token)
            writer.add("authorization", bench.authorization)
            writer.add("apns-push-type", "alert" as StaticString)
            writer.add("apns-topic", "com.example.app" as StaticString)
            writer.add("apns-priority", "10" as StaticString)
            writer.add("apns-expiration", "0" as StaticString)
        }

        func complete(_ result: Result<HTTP2Response, HTTP2Error>) {
            var ok = false
            if case .success(let response) = result, response.status < 500 { ok = true }
            bench.completed(self, success: ok)
        }
    }

    /// Keeps `window` requests outstanding until `total` were sent.
    final class Driver: WindowedDriver, @unchecked Sendable {
        // `next` is only touched under `lock`.
        let pool: HTTP2ConnectionPool
        let authority: String
        let authorization = "bearer eyJhbGciOiJFUzI1NiIsImtpZCI6IlRFU1RLRVkxMjMifQ.eyJpc3MiOiJURUFNMTIzNDU2IiwiaWF0IjoxNzAwMDAwMDAwfQ.c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2ln"
        let body: ByteBuffer
        let total: Int
        let recorder: LatencyRecorder
        let completion: Completion
        private let lock = NIOLock()
        private var next = 0

        init(pool: HTTP2ConnectionPool, body: ByteBuffer, total: Int, recorder: LatencyRecorder) {
            self.pool = pool
            self.authority = pool.configuration.authority
            self.body = body
            self.total = total
            self.recorder = recorder
            self.completion = Completion(total: total)
        }

        func submit(_ count: Int) {
            for _ in 0..<count {
                let index: Int? = lock.withLock {
                    guard next < total else { return nil }
                    defer { next += 1 }
                    return next
                }
                guard let index else { return }
                pool.execute(Push(index: index, body: body, bench: self))
            }
        }

        func completed(_ push: Push, success: Bool) {
            let micros = (NIODeadline.now() - push.started).nanoseconds / 1000
            recorder.record(push.index, microseconds: UInt64(max(0, micros)))
            completion.finish(success: success)
            submit(1)
        }
    }

    func run() async throws -> BenchReport {
        let pool = try HTTP2ConnectionPool(
            configuration: HTTP2PoolConfiguration(
                host: options.host, port: options.port, serverName: options.serverName,
                tls: TLSConfiguration(trust: .caFile(options.caFile)),
                connectionCount: options.connections,
                maxQueued: options.window * 2,
                connectStagger: .milliseconds(10)
            ),
            group: group
        )
        pool.start()
        try await pool.waitUntilReady()
        let report = await measure(mode: "engine", options: options, payloadSize: payload.readableBytes, recorder: recorder) {
            Driver(pool: pool, body: payload, total: $0, recorder: $1)
        }
        await pool.shutdown()
        return report
    }
}
