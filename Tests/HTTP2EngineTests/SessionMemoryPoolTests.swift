import CAPNSShims
@testable @_spi(Benchmarking) import HTTP2Engine
import XCTest

/// An nghttp2 session allocates from free lists of its own (`capns_memory_pool`): after the first requests, its
/// streams, frames and header copies reuse blocks instead of going to malloc, and what it keeps is bounded.
final class SessionMemoryPoolTests: XCTestCase {
    func testASessionReusesItsBlocksRequestAfterRequest() throws {
        let loop = try InMemoryRoundTrip()
        let body = String(repeating: "x", count: 210)
        func roundTrips(_ count: Int) throws {
            for index in 0..<count {
                let exchange = TestExchange(path: "/3/device/\(index)", authority: "localhost", body: body)
                try loop.roundTrip(exchange)
                XCTAssertEqual(exchange.completions, 1)
            }
        }
        try roundTrips(10)
        let before = loop.clientAllocations
        try roundTrips(1_000)
        let after = loop.clientAllocations
        XCTAssertEqual(after.allocated, before.allocated, "no block taken from malloc once warm")
        XCTAssertGreaterThanOrEqual(after.reused - before.reused, 3_000, "several blocks reused per request")
        XCTAssertGreaterThan(after.keptBytes, 0)
        XCTAssertLessThanOrEqual(after.keptBytes, NGHTTP2Session.maxKeptAllocationBytes)
    }

    func testKeptBlocksAreBoundedAndLargeOnesGoBack() {
        let pool = capns_memory_pool_new(16 * 1024)!
        defer { capns_memory_pool_delete(pool) }
        let raw = UnsafeMutableRawPointer(pool)
        let blocks = (0..<100).map { _ in capns_memory_pool_malloc(1_000, raw)! }
        for block in blocks { capns_memory_pool_free(block, raw) }
        let large = capns_memory_pool_malloc(100_000, raw)!
        capns_memory_pool_free(large, raw)
        let statistics = capns_memory_pool_get_statistics(pool)
        XCTAssertEqual(statistics.allocated, 101)
        XCTAssertEqual(statistics.kept, 16, "16 blocks of 1 KiB fill the 16 KiB bound")
        XCTAssertEqual(statistics.released, 85, "the rest, and the large block, go back")
        XCTAssertEqual(statistics.cached_bytes, 16 * 1024)
    }

    func testReallocKeepsTheBytesAndCallocZeroesAReusedBlock() {
        let pool = capns_memory_pool_new(64 * 1024)!
        defer { capns_memory_pool_delete(pool) }
        let raw = UnsafeMutableRawPointer(pool)

        let small = capns_memory_pool_malloc(10, raw)!
        for index in 0..<10 { small.storeBytes(of: UInt8(index + 1), toByteOffset: index, as: UInt8.self) }
        XCTAssertEqual(capns_memory_pool_realloc(small, 16, raw), small, "within its size class: the same block")
        let grown = capns_memory_pool_realloc(small, 5_000, raw)!
        XCTAssertEqual((0..<10).map { grown.load(fromByteOffset: $0, as: UInt8.self) }, Array(1...10))
        capns_memory_pool_free(grown, raw)

        let dirty = capns_memory_pool_malloc(64, raw)!
        dirty.initializeMemory(as: UInt8.self, repeating: 0xFF, count: 64)
        capns_memory_pool_free(dirty, raw)
        let clean = capns_memory_pool_calloc(8, 8, raw)!
        XCTAssertEqual(clean, dirty, "the kept block is reused")
        XCTAssertTrue((0..<64).allSatisfy { clean.load(fromByteOffset: $0, as: UInt8.self) == 0 })
        capns_memory_pool_free(clean, raw)
        XCTAssertNil(capns_memory_pool_calloc(Int.max, 2, raw), "an overflowing size is refused")
    }
}
