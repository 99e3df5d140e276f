import APNsGatewayClient
import Foundation
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
