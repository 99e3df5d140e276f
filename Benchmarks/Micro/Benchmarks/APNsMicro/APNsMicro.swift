// Micro-benchmarks of the work done once per push, outside the network: the provider token lookup, header
// encoding, notification validation, response parsing, one whole HTTP/2 request/response exchange through
// nghttp2 in memory, and the intake's decoding of a `send` line with its payload copies. Each reports wall-clock time, CPU time and malloc
// counts per operation (the framework's figures are per iteration; `scaledIterations` runs 1000 operations
// per iteration, so the reported time and mallocs are per 1000 operations).
import APNs
import APNsCore
import Benchmark
import Foundation
@_spi(Benchmarking) import HTTP2Engine
@_spi(Benchmarking) import Intake
import NIOCore

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .throughput],
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: 10_000
    )

    let fixtures = Fixtures.make()

    Benchmark("JWT cache hit (authorization)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(fixtures.tokens.authorization())
        }
    }

    Benchmark("Header encoding (APNs request)") { benchmark in
        var writer = HTTP2HeaderWriter.forInspection()
        for _ in benchmark.scaledIterations {
            writer.reset()
            fixtures.writeHeaders(into: &writer)
        }
        blackHole(writer.fieldsForInspection.count)
    }

    Benchmark("Notification validate (210 B payload)") { benchmark in
        for _ in benchmark.scaledIterations {
            do {
                try fixtures.notification.validate()
            } catch {
                fatalError("the fixture must be valid: \(error)")
            }
        }
    }

    // The engine's session against an nghttp2 server session, bytes moved by hand: framing, HPACK and stream
    // bookkeeping on both sides, with no socket or TLS. The answer has APNs's fields.
    for (name, body) in [("210 B", fixtures.notification.payload), ("4096 B", ByteBuffer(repeating: UInt8(ascii: "x"), count: 4096))] {
        Benchmark("nghttp2 round trip in memory (\(name) request, 200 answer)") { benchmark in
            let loop: InMemoryRoundTrip
            do {
                loop = try InMemoryRoundTrip(answer: [
                    (":status", "200"), ("apns-id", "6e2cf5e8-3b5c-4d0c-9a4e-1f6d2b8c7a10"),
                    ("apns-unique-id", "5c3b2a91-8e7f-4d6c-b5a4-39281706f5e4"),
                ])
            } catch {
                fatalError("cannot set up the in-memory sessions: \(error)")
            }
            let exchange = BenchExchange(fixtures: fixtures, body: body)
            for _ in benchmark.scaledIterations {
                do {
                    try loop.roundTrip(exchange)
                } catch {
                    fatalError("round trip failed: \(error)")
                }
            }
            precondition(exchange.succeeded == benchmark.scaledIterations.count, "every round trip must answer 200")
        }
    }

    Benchmark("Intake line decode + payload copy (1 notification, 210 B)") { benchmark in
        let line = fixtures.sendLine(notifications: 1)
        for _ in benchmark.scaledIterations {
            blackHole(IntakeLineDecoding.decodeSend(line, maxBatchSize: 10_000))
        }
    }

    Benchmark(
        "Intake line decode + payload copy (500 notifications, per line)",
        configuration: .init(
            metrics: [.wallClock, .mallocCountTotal, .throughput], scalingFactor: .one, maxDuration: .seconds(2),
            maxIterations: 2_000)
    ) { benchmark in
        let line = fixtures.sendLine(notifications: 500)
        for _ in benchmark.scaledIterations {
            precondition(IntakeLineDecoding.decodeSend(line, maxBatchSize: 10_000) == 500)
        }
    }

    Benchmark(
        "Intake reply (500 results: 200 with apns-id, per reply)",
        configuration: .init(
            metrics: [.wallClock, .mallocCountTotal, .throughput], scalingFactor: .one, maxDuration: .seconds(2),
            maxIterations: 5_000)
    ) { benchmark in
        let results = (0..<500).map { _ in APNsResult(source: .apns, status: 200, apnsID: fixtures.apnsID, attempts: 1) }
        let id = ByteBuffer(string: "1")
        for _ in benchmark.scaledIterations {
            blackHole(IntakeLineDecoding.encodeReply(id: id, results: results))
        }
    }

    // APNs answers every push with an `apns-id` (and, in development, an `apns-unique-id`): reading both as
    // strings (as the gateway did) against reading them as `APNsIdentifier`s (inline, as it does now).
    let answer = HTTP2Response(status: 200, headers: [
        HTTP2Header(name: "apns-id", value: "6e2cf5e8-3b5c-4d0c-9a4e-1f6d2b8c7a10"),
        HTTP2Header(name: "apns-unique-id", value: "5c3b2a91-8e7f-4d6c-b5a4-39281706f5e4"),
    ])
    Benchmark("APNs answer ids read as strings (apns-id, apns-unique-id)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(answer.header("apns-id"))
            blackHole(answer.header("apns-unique-id"))
        }
    }
    Benchmark("APNs answer ids read as identifiers (apns-id, apns-unique-id)") { benchmark in
        for _ in benchmark.scaledIterations {
            var apnsID: APNsIdentifier?
            var apnsUniqueID: APNsIdentifier?
            answer.withHeader("apns-id") { apnsID = APNsIdentifier(decoding: $0) }
            answer.withHeader("apns-unique-id") { apnsUniqueID = APNsIdentifier(decoding: $0) }
            blackHole(apnsID)
            blackHole(apnsUniqueID)
        }
    }

    Benchmark("Response parse (200)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(APNsResponse.parse(status: 200, apnsID: nil, apnsUniqueID: nil, body: nil))
        }
    }

    Benchmark("Response parse (410 with body)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(APNsResponse.parse(
                status: 410, apnsID: fixtures.apnsID, apnsUniqueID: nil, body: fixtures.unregisteredBody
            ))
        }
    }
}

/// What the benchmarks share: built once, outside the measured loops.
struct Fixtures: @unchecked Sendable {
    let tokens: APNsProviderTokenCache
    let notification: APNsNotification
    let authority = "api.push.apple.com"
    let apnsID = "4f2b1c3e-6a7d-4e8f-9a0b-1c2d3e4f5a6b"
    let unregisteredBody = ByteBuffer(string: #"{"reason":"Unregistered","timestamp":1700000000000}"#)

    static func make() -> Fixtures {
        // The test key that the repository ships (certs/AuthKey_TESTKEY123.p8), found from this file's path.
        let root = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        do {
            let key = try APNsSigningKey(contentsOfFile: root.appendingPathComponent("certs/AuthKey_TESTKEY123.p8").path)
            let tokens = try APNsProviderTokenCache(key: key, keyID: "TESTKEY123", teamID: "TEAM123456")
            let head = #"{"aps":{"alert":{"title":"Score update","body":""#
            let tail = #""},"sound":"default"}}"#
            let payload = head + String(repeating: "x", count: 210 - head.utf8.count - tail.utf8.count) + tail
            precondition(payload.utf8.count == 210)
            let notification = APNsNotification(
                deviceToken: String(repeating: "ab", count: 32),
                payload: ByteBuffer(string: payload),
                pushType: .alert,
                topic: "com.example.app",
                priority: .immediate,
                expiration: 0
            )
            return Fixtures(tokens: tokens, notification: notification)
        } catch {
            fatalError("cannot build the fixtures: \(error)")
        }
    }

    /// A `send` request line as a backend writes it: `count` notifications with the fixture's token and payload.
    func sendLine(notifications count: Int) -> ByteBuffer {
        let payload = String(buffer: notification.payload)
        let item = #"{"token":"\#(notification.deviceToken)","payload":\#(payload)}"#
        return ByteBuffer(string: #"{"id":1,"op":"send","notifications":["# + Array(repeating: item, count: count).joined(separator: ",") + "]}")
    }

    /// The fields APNsPush writes for a token-authenticated alert with priority and expiration.
    func writeHeaders(into writer: inout HTTP2HeaderWriter) {
        writer.add(":method", "POST" as StaticString)
        writer.add(":scheme", "https" as StaticString)
        writer.add(":authority", authority)
        let token = notification.token
        writer.add(":path", prefix: "/3/device/", writing: token.utf8Count) { token.writeHex(into: $0) }
        writer.add("authorization", tokens.authorization())
        writer.add("apns-push-type", notification.pushType.rawValue)
        writer.add("apns-topic", notification.topic)
        if let priority = notification.priority {
            writer.add("apns-priority", decimal: Int64(priority.rawValue))
        }
        if let expiration = notification.expiration {
            writer.add("apns-expiration", decimal: expiration)
        }
    }
}

/// The exchange the round-trip benchmark sends again and again: APNs's headers and a 210 B body.
final class BenchExchange: HTTP2Exchange, @unchecked Sendable {
    let fixtures: Fixtures
    let deadline = NIODeadline.distantFuture
    let requestBody: ByteBuffer
    private(set) var succeeded = 0

    init(fixtures: Fixtures, body: ByteBuffer? = nil) {
        self.fixtures = fixtures
        self.requestBody = body ?? fixtures.notification.payload
    }

    func writeHeaders(into writer: inout HTTP2HeaderWriter) {
        fixtures.writeHeaders(into: &writer)
    }

    func complete(_ result: Result<HTTP2Response, HTTP2Error>) {
        if case .success(let response) = result, response.status == 200 { succeeded += 1 }
    }
}
