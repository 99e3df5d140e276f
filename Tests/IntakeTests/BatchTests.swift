import APNsGatewayClient
import Foundation
import MockAPNs
import XCTest

final class BatchTests: XCTestCase {
    /// 10,000 items, good and bad mixed: 10,000 results in input order, each with the status its item earns.
    func testBatchOf10000MixedItemsAnswersEveryItemInOrder() async throws {
        let unregisteredToken = deviceToken(999_999_999)
        // A bound well under the batch size: the batch is submitted in several rounds of backpressure.
        let harness = try await IntakeHarness.start(maxOutstanding: 1000, unregistered: [unregisteredToken: 1_700_000_000_000])
        let client = try await GatewayClient.connect(path: harness.socketPath)
        var items: [String] = []
        for index in 0..<10_000 {
            switch index % 5 {
            case 0: items.append(#"{"token":"xyz\#(index)","payload":{"aps":{"alert":"bad token"}}}"#)
            case 1: items.append(#"{"token":"\#(unregisteredToken)","payload":{"aps":{"alert":"gone"}}}"#)
            case 2: items.append(#"{"token":"\#(deviceToken(index))","payload":"not an object"}"#)
            case 3: items.append(#"{"token":"\#(deviceToken(index))","payload":{"aps":{"alert":"hi \#(index)"}},"collapseId":"c\#(index)"}"#)
            default: items.append(#"{"token":"\#(deviceToken(index))","payload":{"aps":{"badge":1}},"priority":5}"#)
            }
        }
        let results = try await client.send(rawNotifications: items)
        XCTAssertEqual(results.count, 10_000)
        var mismatches = 0
        for (index, result) in results.enumerated() {
            let ok: Bool
            switch index % 5 {
            case 0: ok = result.source == "local" && result.reason == "BadDeviceToken" && result.status == nil
            case 1: ok = result.status == 410 && result.reason == "Unregistered" && result.timestamp == 1_700_000_000_000
            case 2: ok = result.source == "local" && result.reason == "BadRequest"
            default: ok = result.status == 200 && result.source == "apns" && result.apnsID != nil
            }
            if !ok {
                mismatches += 1
                if mismatches < 5 { XCTFail("item \(index): unexpected result \(result)") }
            }
        }
        XCTAssertEqual(mismatches, 0)
        XCTAssertEqual(harness.client.statistics.outstanding, 0)
        await client.close()
        try await harness.stop()
    }

    /// Long request lines one after the other on one connection (each gathered in the storage of the one before),
    /// payloads sharing buffers, and every fifth request to APNs answered 503 and retried: each notification
    /// reaches APNs with exactly its own payload, the retried ones too.
    func testPayloadsOfLongLinesArriveExactlyThroughRetries() async throws {
        let harness = try await IntakeHarness.start(
            maxOutstanding: 300, faults: MockFaults(statusEvery: MockStatusFault(every: 5, status: 503)), record: true)
        let client = try await GatewayClient.connect(path: harness.socketPath)
        var expected: [String: String] = [:]
        var succeeded = 0
        for request in 0..<3 {
            // 400 notifications of about 300 bytes: a line of about 160 KB, payloads over several 32 KiB buffers.
            let notifications = (0..<400).map { item -> GatewayNotification in
                let token = deviceToken((request + 1) << 16 + item)  // distinct even after deviceToken's padding
                let payload = #"{"aps":{"alert":"request \#(request) item \#(item) \#(String(repeating: "z", count: 200 + item % 50))"}}"#
                expected[token] = payload
                return GatewayNotification(token: token, payload: payload)
            }
            let results = try await client.send(notifications)
            XCTAssertEqual(results.count, 400)
            // A deterministic every-fifth fault can meet one item on each of its attempts: it then ends with APNs's
            // 503 once its attempts are used up.
            let failed = results.filter { !$0.isSuccess }
            XCTAssertTrue(failed.allSatisfy { $0.status == 503 }, "\(failed.prefix(3))")
            XCTAssertLessThan(failed.count, 20, "request \(request): retried items are delivered")
            succeeded += results.count - failed.count
        }
        let delivered = harness.mock.received.filter { $0.responseStatus == 200 }
        XCTAssertEqual(delivered.count, succeeded)
        XCTAssertGreaterThan(harness.mock.received.filter { $0.responseStatus == 503 }.count, 100, "retries happened")
        var wrong = 0
        for request in delivered where String(decoding: request.body, as: UTF8.self) != expected[request.deviceToken] {
            wrong += 1
            if wrong <= 3 {
                XCTFail("token \(request.deviceToken.suffix(6)) stream \(request.streamID) conn \(request.connectionID): got \(String(decoding: request.body, as: UTF8.self).prefix(60))… (\(request.body.count) B), expected \(expected[request.deviceToken]?.prefix(60) ?? "nil")… (\(expected[request.deviceToken]?.utf8.count ?? 0) B)")
            }
        }
        XCTAssertEqual(wrong, 0, "every delivered body is its own notification's payload")
        await client.close()
        try await harness.stop()
    }

    /// 50 clients at once, each pipelining 8 requests of 25 notifications on one connection.
    func testFiftyConcurrentClientsPipelining() async throws {
        let harness = try await IntakeHarness.start(maxOutstanding: 2000)
        let path = harness.socketPath
        let totals = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            for clientNumber in 0..<50 {
                group.addTask {
                    let client = try await GatewayClient.connect(path: path)
                    let counts = try await withThrowingTaskGroup(of: (Int, Int).self) { requests in
                        for request in 0..<8 {
                            requests.addTask {
                                let notifications = (0..<25).map { item in
                                    GatewayNotification(
                                        token: deviceToken(clientNumber * 10_000 + request * 100 + item),
                                        payload: #"{"aps":{"alert":"client \#(clientNumber) request \#(request) item \#(item)"}}"#)
                                }
                                let results = try await client.send(notifications)
                                return (results.count, results.filter(\.isSuccess).count)
                            }
                        }
                        try await client.ping()
                        var sum = (0, 0)
                        for try await (count, ok) in requests { sum = (sum.0 + count, sum.1 + ok) }
                        return sum
                    }
                    await client.close()
                    return counts
                }
            }
            var sum = (0, 0)
            for try await (count, ok) in group { sum = (sum.0 + count, sum.1 + ok) }
            return sum
        }
        XCTAssertEqual(totals.0, 50 * 8 * 25)
        XCTAssertEqual(totals.1, 50 * 8 * 25)
        XCTAssertEqual(harness.mock.stats.responsesByStatus[200], 50 * 8 * 25)
        try await harness.stop()
    }
}
