import Foundation
import NIOConcurrencyHelpers
import NIOCore

/// Latencies in microseconds, one slot per request, written without locks by index.
final class LatencyRecorder: @unchecked Sendable {
    // Each index is written once by the thread that completes that request; read after all complete.
    private let storage: UnsafeMutableBufferPointer<UInt32>
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        storage = .allocate(capacity: capacity)
        storage.initialize(repeating: 0)
    }

    func record(_ index: Int, microseconds: UInt64) {
        if index < capacity { storage[index] = UInt32(min(microseconds, UInt64(UInt32.max))) }
    }

    func percentiles(_ ps: [Double], count: Int) -> [Double] {
        var sorted = Array(storage.prefix(count))
        sorted.sort()
        guard !sorted.isEmpty else { return ps.map { _ in 0 } }
        return ps.map { p in Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]) / 1000 }
    }
}

struct ResourceUsage {
    var cpuSeconds: Double
    var maxRSSKiB: Int

    static func now() -> ResourceUsage {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let cpu = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        return ResourceUsage(cpuSeconds: cpu, maxRSSKiB: usage.ru_maxrss)
    }

    static func - (lhs: ResourceUsage, rhs: ResourceUsage) -> ResourceUsage {
        ResourceUsage(cpuSeconds: lhs.cpuSeconds - rhs.cpuSeconds, maxRSSKiB: lhs.maxRSSKiB)
    }
}

struct BenchReport {
    var mode: String
    var connections: Int
    var payloadSize: Int
    var requests: Int
    var succeeded: Int
    var failed: Int
    var seconds: Double

    func json(usage: ResourceUsage, latencies: LatencyRecorder) -> String {
        let p = latencies.percentiles([0.5, 0.99, 0.999], count: requests)
        let rate = Double(requests) / seconds
        let cpuPer100k = usage.cpuSeconds / Double(requests) * 100_000
        return String(
            format: #"{"mode":"%@","connections":%d,"payload":%d,"requests":%d,"succeeded":%d,"failed":%d,"seconds":%.3f,"pushes_per_second":%.0f,"p50_ms":%.3f,"p99_ms":%.3f,"p999_ms":%.3f,"cpu_seconds_per_100k":%.3f,"peak_rss_mib":%.1f}"#,
            mode, connections, payloadSize, requests, succeeded, failed, seconds, rate, p[0], p[1], p[2], cpuPer100k,
            Double(usage.maxRSSKiB) / 1024
        )
    }
}

/// Counts completions and resumes the waiter when all are in.
final class Completion: Sendable {
    private let state: NIOLockedValueBox<(done: Int, failed: Int, waiter: CheckedContinuation<Void, Never>?)>
    let total: Int

    init(total: Int) {
        self.total = total
        state = NIOLockedValueBox((0, 0, nil))
    }

    func finish(success: Bool) {
        let waiter = state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
            state.done += 1
            if !success { state.failed += 1 }
            guard state.done == total else { return nil }
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    var failed: Int { state.withLockedValue { $0.failed } }

    func wait() async {
        await withCheckedContinuation { continuation in
            let done = state.withLockedValue { state -> Bool in
                if state.done == total { return true }
                state.waiter = continuation
                return false
            }
            if done { continuation.resume() }
        }
    }
}

/// A load driver that keeps a window of requests outstanding until its total was sent.
protocol WindowedDriver: AnyObject {
    var completion: Completion { get }
    func submit(_ count: Int)
}

/// Runs the warm-up, then the measured requests, each with a fresh driver keeping `options.window` outstanding.
func measure<Driver: WindowedDriver>(
    mode: String,
    options: BenchOptions,
    payloadSize: Int,
    recorder: LatencyRecorder,
    makeDriver: (_ total: Int, _ recorder: LatencyRecorder) -> Driver
) async -> BenchReport {
    if options.warmup > 0 {
        let warm = makeDriver(options.warmup, LatencyRecorder(capacity: 0))
        warm.submit(min(options.window, options.warmup))
        await warm.completion.wait()
    }
    let driver = makeDriver(options.requests, recorder)
    let start = NIODeadline.now()
    driver.submit(min(options.window, options.requests))
    await driver.completion.wait()
    let seconds = Double((NIODeadline.now() - start).nanoseconds) / 1e9
    return BenchReport(
        mode: mode, connections: options.connections, payloadSize: payloadSize,
        requests: options.requests, succeeded: options.requests - driver.completion.failed,
        failed: driver.completion.failed, seconds: seconds
    )
}
