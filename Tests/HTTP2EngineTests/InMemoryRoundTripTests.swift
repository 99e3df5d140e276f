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
