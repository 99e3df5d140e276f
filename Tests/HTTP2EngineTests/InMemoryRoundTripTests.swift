@_spi(Benchmarking) import HTTP2Engine
import NIOCore
import XCTest

/// The in-memory client/server pair that the micro-benchmarks time: every exchange must come back whole.
final class InMemoryRoundTripTests: XCTestCase {
    func testEachRoundTripCompletesItsExchangeWithTheServersStatus() throws {
        let loop = try InMemoryRoundTrip()
        let body = String(repeating: "x", count: 210)
        for index in 0..<2_000 {
            let exchange = TestExchange(path: "/3/device/\(index)", authority: "localhost", body: body)
            try loop.roundTrip(exchange)
            XCTAssertEqual(exchange.completions, 1, "exchange \(index) completed \(exchange.completions) times")
            guard case .success(let response) = exchange.result else {
                return XCTFail("exchange \(index): \(String(describing: exchange.result))")
            }
            XCTAssertEqual(response.status, 200)
            XCTAssertNil(response.body)
        }
    }
}

/// The engine checks a response's `:status` itself (nghttp2's HTTP messaging checks are off): a malformed one
/// resets the stream with PROTOCOL_ERROR and the exchange fails; a well-formed one is taken with its fields.
final class ResponseStatusCheckTests: XCTestCase {
    private func result(answering fields: [(name: String, value: String)]) throws -> Result<HTTP2Response, HTTP2Error>? {
        let loop = try InMemoryRoundTrip(answer: fields)
        let exchange = TestExchange(path: "/3/device/abc", authority: "localhost", body: "{}")
        try loop.roundTrip(exchange)
        XCTAssertEqual(exchange.completions, 1)
        return exchange.result
    }

    func testWellFormedAnswersAreTakenWithTheirFields() throws {
        for status in ["200", "400", "410", "503", "100", "999"] {
            guard case .success(let response) = try result(answering: [(":status", status), ("apns-id", "A-1")]) else {
                return XCTFail(":status \(status) was not taken")
            }
            XCTAssertEqual(response.status, Int(status))
            XCTAssertEqual(response.header("apns-id"), "A-1")
        }
    }

    func testMalformedStatusResetsTheStreamWithProtocolError() throws {
        let malformed: [[(name: String, value: String)]] = [
            [(":status", "20")],
            [(":status", "2000")],
            [(":status", "2x0")],
            [(":status", " 200")],
            [(":status", "099")],
            [(":status", "")],
            [(":status", "200"), (":status", "200")],
            [("apns-id", "A-1"), (":status", "200")],
            [(":status", "200"), (":path", "/")],
            [(":scheme", "https"), (":status", "200")],
        ]
        for fields in malformed {
            let outcome = try result(answering: fields)
            guard case .failure(let error) = outcome, error.kind == .streamReset else {
                return XCTFail("\(fields): \(String(describing: outcome)), not a reset")
            }
            XCTAssertEqual(error.errorCode, 0x1, "\(fields): reset with \(error.errorCode), not PROTOCOL_ERROR")
        }
    }

    func testAnswerWithoutStatusFailsTheExchange() throws {
        guard case .failure(let error) = try result(answering: [("apns-id", "A-1")]) else {
            return XCTFail("an answer without :status was taken")
        }
        XCTAssertFalse(error.isNotSent, "the request was sent: \(error)")
    }
}

/// Waiting on an nghttp2 server's 64 KiB connection window, each round trip carries a whole window of request
/// bodies: the engine ends DATA frames where the server acknowledges (half its window), so no tail of a frame
/// is left unacknowledged for a round trip.
final class WindowAlignmentTests: XCTestCase {
    private func rounds(bodyBytes: Int, requests: Int, serverReadSize: Int, serverWindow: Int32 = 65_535) throws -> [Int] {
        let pair = try InMemoryRoundTrip(serverConnectionWindow: serverWindow)
        let body = String(repeating: "x", count: bodyBytes)
        let exchanges = (0..<requests).map { TestExchange(path: "/3/device/\($0)", authority: "localhost", body: body) }
        let carried = try pair.rounds(sending: exchanges, serverReadSize: serverReadSize)
        for (index, exchange) in exchanges.enumerated() {
            guard case .success(let response) = exchange.result, exchange.completions == 1 else {
                XCTFail("request \(index): \(String(describing: exchange.result)), \(exchange.completions) completions")
                continue
            }
            XCTAssertEqual(response.status, 200)
        }
        XCTAssertEqual(carried.reduce(0, +), bodyBytes * requests)
        return carried
    }

    func testEveryRoundButTheLastCarriesTheWholeWindow() throws {
        // 4,000 B does not divide the window: a frame crossing the server's mark would strand up to half of it.
        for (bodyBytes, readSize) in [(4_000, 8_192), (4_096, 8_192), (4_000, 16_384), (3_000, 1_000), (210, 8_192), (9_000, 4_096)] {
            let requests = 600_000 / bodyBytes
            let carried = try rounds(bodyBytes: bodyBytes, requests: requests, serverReadSize: readSize)
            XCTAssertGreaterThan(carried.count, 2, "\(bodyBytes) B: \(carried)")
            for (round, bytes) in carried.dropLast().enumerated() {
                XCTAssertGreaterThanOrEqual(bytes, 65_534, "\(bodyBytes) B, reads of \(readSize): round \(round) carried \(bytes) of \(carried)")
            }
        }
    }

    func testAWiderServerWindowMovesTheMarks() throws {
        // The server announces 256 KiB (a WINDOW_UPDATE before any data, not an acknowledgement): it acknowledges
        // every 128 KiB, and every round must carry the whole 256 KiB.
        let window = 262_144
        let carried = try rounds(bodyBytes: 4_000, requests: 400, serverReadSize: 16_384, serverWindow: Int32(window))
        XCTAssertGreaterThan(carried.count, 2, "\(carried)")
        for (round, bytes) in carried.dropLast().enumerated() {
            XCTAssertGreaterThanOrEqual(bytes, window - 1, "round \(round) carried \(bytes) of \(carried)")
        }
    }
}
