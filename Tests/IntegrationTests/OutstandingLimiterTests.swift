@testable import APNs
import NIOConcurrencyHelpers
import XCTest

/// The client's bound on outstanding work counts notifications and their bytes in one limiter.
final class OutstandingLimiterTests: XCTestCase {
    func testTheByteBoundRefusesWhatDoesNotFitAndReleaseMakesRoom() {
        let limiter = OutstandingLimiter(limit: 100, byteLimit: 10_000)
        XCTAssertTrue(limiter.tryAcquire(bytes: 4_000))
        XCTAssertTrue(limiter.tryAcquire(bytes: 4_000))
        XCTAssertFalse(limiter.tryAcquire(bytes: 4_000), "12,000 bytes would pass the bound of 10,000")
        XCTAssertTrue(limiter.tryAcquire(bytes: 2_000), "exactly at the bound fits")
        XCTAssertEqual(limiter.outstanding, 3)
        XCTAssertEqual(limiter.outstandingBytes, 10_000)
        limiter.release(bytes: 4_000)
        XCTAssertEqual(limiter.outstandingBytes, 6_000)
        XCTAssertTrue(limiter.tryAcquire(bytes: 4_000))
    }

    func testTheCountBoundStillApplies() {
        let limiter = OutstandingLimiter(limit: 2, byteLimit: 1_000_000)
        XCTAssertTrue(limiter.tryAcquire(bytes: 10))
        XCTAssertTrue(limiter.tryAcquire(bytes: 10))
        XCTAssertFalse(limiter.tryAcquire(bytes: 10))
    }

    func testAnItemLargerThanTheWholeBoundIsAdmittedAlone() async throws {
        let limiter = OutstandingLimiter(limit: 100, byteLimit: 1_000)
        XCTAssertTrue(limiter.tryAcquire(bytes: 5_000), "nothing else is outstanding: it goes alone")
        XCTAssertFalse(limiter.tryAcquire(bytes: 1), "and nothing joins it")
        limiter.release(bytes: 5_000)

        // Behind a small item it waits for that item, then goes.
        XCTAssertTrue(limiter.tryAcquire(bytes: 100))
        XCTAssertFalse(limiter.tryAcquire(bytes: 5_000))
        let admitted = expectation(description: "the oversized waiter is admitted")
        let task = Task {
            await limiter.acquire(bytes: 5_000)
            admitted.fulfill()
        }
        try await waitUntil { limiter.outstanding == 1 && limiter.waiterCount == 1 }
        limiter.release(bytes: 100)
        await fulfillment(of: [admitted], timeout: 5)
        XCTAssertEqual(limiter.outstandingBytes, 5_000)
        XCTAssertEqual(limiter.outstanding, 1)
        _ = await task.value
    }

    func testAWaiterForBytesIsWokenByARelease() async throws {
        let limiter = OutstandingLimiter(limit: 100, byteLimit: 10_000)
        XCTAssertTrue(limiter.tryAcquire(bytes: 6_000))
        XCTAssertTrue(limiter.tryAcquire(bytes: 3_000))
        XCTAssertTrue(limiter.tryAcquire(bytes: 1_000))
        let admitted = NIOLockedValueBox(false)
        let task = Task {
            await limiter.acquire(bytes: 2_000)
            admitted.withLockedValue { $0 = true }
        }
        try await waitUntil { limiter.waiterCount == 1 }
        limiter.release(bytes: 1_000)
        XCTAssertEqual(limiter.waiterCount, 1, "9,000 + 2,000 would pass the bound: still waiting")
        XCTAssertFalse(admitted.withLockedValue { $0 })
        limiter.release(bytes: 3_000)
        XCTAssertEqual(limiter.waiterCount, 0, "6,000 + 2,000 fits: admitted by the release")
        await task.value
        XCTAssertTrue(admitted.withLockedValue { $0 })
        XCTAssertEqual(limiter.outstandingBytes, 8_000)
        XCTAssertEqual(limiter.outstanding, 2)
    }

    func testWaitersAreAdmittedInOrderAsLongAsTheyFit() async throws {
        let limiter = OutstandingLimiter(limit: 100, byteLimit: 10_000)
        XCTAssertTrue(limiter.tryAcquire(bytes: 10_000))
        let order = NIOLockedValueBox<[Int]>([])
        var tasks: [Task<Void, Never>] = []
        for (index, size) in [3_000, 3_000, 5_000].enumerated() {
            tasks.append(Task {
                await limiter.acquire(bytes: size)
                order.withLockedValue { $0.append(index) }
            })
            try await waitUntil { limiter.waiterCount == index + 1 }
        }
        XCTAssertFalse(limiter.tryAcquire(bytes: 1), "nobody passes the waiters")
        limiter.release(bytes: 10_000)
        // The first two fit (6,000); the third (11,000) waits, and nothing behind it overtakes it.
        await tasks[0].value
        await tasks[1].value
        XCTAssertEqual(limiter.waiterCount, 1)
        XCTAssertEqual(limiter.outstandingBytes, 6_000)
        limiter.release(bytes: 3_000)
        await tasks[2].value
        XCTAssertEqual(order.withLockedValue { $0 }, [0, 1, 2])
        XCTAssertEqual(limiter.outstandingBytes, 8_000)
    }

    func testACallbackWaitsForAnEighthOfTheByteBoundToComeFree() {
        let limiter = OutstandingLimiter(limit: 1_000, byteLimit: 8_000)
        XCTAssertTrue(limiter.tryAcquire(bytes: 4_000))
        XCTAssertTrue(limiter.tryAcquire(bytes: 3_500))
        XCTAssertFalse(limiter.tryAcquire(bytes: 1_000))
        let calls = NIOLockedValueBox(0)
        limiter.whenAvailable { calls.withLockedValue { $0 += 1 } }
        XCTAssertEqual(calls.withLockedValue { $0 }, 0, "7,500 of 8,000 bytes held: above 7,000, no busy retry")
        limiter.release(bytes: 3_500)
        XCTAssertEqual(calls.withLockedValue { $0 }, 1)
        XCTAssertTrue(limiter.tryAcquire(bytes: 1_000))
    }

    private struct TimedOut: Error {}

    /// Polls `condition` until it holds; fails after 5 s.
    private func waitUntil(_ condition: @escaping @Sendable () -> Bool, line: UInt = #line) async throws {
        let deadline = ContinuousClock.now + .seconds(5)
        while !condition() {
            guard ContinuousClock.now < deadline else {
                XCTFail("the condition did not hold within 5 s", line: line)
                throw TimedOut()
            }
            await Task.yield()
            try await Task.sleep(for: .milliseconds(1))
        }
    }
}
