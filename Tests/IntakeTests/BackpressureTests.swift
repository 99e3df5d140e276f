import GatewayTestSupport
import Foundation
import NIOConcurrencyHelpers
import XCTest

#if canImport(Glibc)
import Glibc
#endif

final class BackpressureTests: XCTestCase {
    /// A writer sends as fast as it can while its reader takes replies slowly: the gateway stops reading the
    /// connection instead of buffering, so the process's memory stays bounded and stops growing, and the writer
    /// is held back.
    func testSlowReaderWithFastWriterKeepsMemoryBounded() async throws {
        let harness = try await IntakeHarness.start(maxOutstanding: 2000)
        let socket = try RawSocket(path: harness.socketPath)
        let payload = #"{"aps":{"alert":"backpressure"},"pad":""# + String(repeating: "p", count: 2000) + #""}"#
        var request = #"{"id":1,"op":"send","notifications":["#
        for item in 0..<50 {
            if item > 0 { request += "," }
            request += #"{"token":"\#(deviceToken(item))","payload":\#(payload)}"#
        }
        request += "]}\n"
        let line = Array(request.utf8)
        let stop = NIOLockedValueBox(false)
        let baseline = memoryInUseKiB()

        async let written: Int = onThread {
            var total = 0
            while !stop.withLockedValue({ $0 }) {
                guard socket.write(line) else { break }
                total += line.count
            }
            return total
        }
        let samples: [Int] = await onThread {
            var samples: [Int] = []
            var read = 0
            var reads = 0
            while read < 500_000 {
                let chunk = socket.read(upTo: 4096)
                if chunk.isEmpty { break }
                read += chunk.count
                reads += 1
                if reads % 5 == 0 { samples.append(memoryInUseKiB()) }
                usleep(10_000)  // the slow reader: about 400 KB/s
            }
            return samples
        }
        stop.withLockedValue { $0 = true }
        shutdown(socket.fd, Int32(SHUT_RDWR))
        let bytesWritten = await written
        socket.closeSocket()

        let peak = samples.max() ?? 0
        let half = samples.count / 2
        let middle = samples[..<max(1, half)].max() ?? 0
        let last = samples.suffix(max(1, samples.count / 4)).max() ?? 0
        print(
            "slow reader: baseline memory \(baseline / 1024) MiB, peak \(peak / 1024) MiB, first half max \(middle / 1024) MiB, "
                + "last quarter max \(last / 1024) MiB, \(samples.count) samples, writer wrote \(bytesWritten / 1_000_000) MB")
        XCTAssertGreaterThan(samples.count, 10)
        XCTAssertLessThan(peak - baseline, 150 * 1024, "memory grew by more than 150 MiB")
        XCTAssertLessThan(last - middle, 30 * 1024, "memory kept growing in the second half")
        // Without backpressure the writer could push hundreds of MB; with it, about what the reader consumed
        // (500 KB of replies ≈ 5,500 notifications ≈ 11 MB of requests) plus the bound and socket buffers.
        XCTAssertLessThan(bytesWritten, 40_000_000)
        try await harness.stop()
    }
}
