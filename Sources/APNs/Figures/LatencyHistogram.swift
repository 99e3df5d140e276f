import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A histogram of durations with fixed buckets, recorded without locks.
///
/// Why not swift-prometheus's `Histogram`: it takes a lock and walks every bucket on each observation. The
/// gateway observes three durations per notification at well over 100,000 notifications per second, from
/// every event loop at once; a lock there is contended, and it shows in throughput. Here an observation is a
/// short bucket search and two relaxed atomic adds (bucket and sum), into one of a few shards chosen by the
/// calling thread, so event loops do not contend for the same cache lines. A scrape adds the shards up
/// (``snapshot()``); the exporter renders that as a Prometheus histogram. Nothing here is reference counted on
/// the way: the bounds and the cells are plain memory.
///
/// The counts of one snapshot are read one by one while observations go on, so `count` and `sum` can be an
/// observation or two apart; both only grow, as Prometheus expects.
public final class LatencyHistogram: Sendable {
    /// The upper bounds of the buckets, in seconds: 100 µs to 30 s, about three per decade.
    public static let defaultBounds: [Double] = [
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
    ]

    /// Finer bounds for durations that are mostly well under a millisecond (the time the gateway adds to a
    /// notification): 10 µs to 10 s, about 25 % apart up to 10 ms. 2 ms is a bound, so "at most 2 ms" is read
    /// exactly from the cumulative counts.
    public static let fineBounds: [Double] = [
        0.00001, 0.00002, 0.00003, 0.00004, 0.00005, 0.00006, 0.00008,
        0.0001, 0.000125, 0.00015, 0.0002, 0.00025, 0.0003, 0.0004, 0.0005, 0.0006, 0.0008,
        0.001, 0.00125, 0.0015, 0.002, 0.0025, 0.003, 0.004, 0.005, 0.006, 0.008,
        0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10,
    ]

    /// Upper bounds in seconds, ascending; an implicit last bucket takes everything above.
    public let bounds: [Double]
    /// The bounds in nanoseconds, in memory of their own: an observation touches no reference-counted object.
    private nonisolated(unsafe) let limits: UnsafeMutablePointer<Int64>
    private let boundCount: Int
    /// All shards in one allocation, each on cache lines of its own: per shard one counter per bucket (the last
    /// one above every bound), then the sum in nanoseconds.
    private nonisolated(unsafe) let cells: UnsafeMutablePointer<Atomic<Int>>
    /// Cells from one shard to the next (a multiple of a cache line).
    private let shardStride: Int
    private let shardCount: Int

    /// A histogram with `bounds` (seconds, ascending) and `shards` shards (a power of two).
    public init(bounds: [Double] = LatencyHistogram.defaultBounds, shards: Int = 8) {
        precondition(!bounds.isEmpty && zip(bounds, bounds.dropFirst()).allSatisfy { $0 < $1 })
        precondition(shards > 0 && shards & (shards - 1) == 0)
        self.bounds = bounds
        self.boundCount = bounds.count
        limits = .allocate(capacity: bounds.count)
        for (index, bound) in bounds.enumerated() {
            (limits + index).initialize(to: Int64((bound * 1e9).rounded()))
        }
        let perCacheLine = 64 / MemoryLayout<Atomic<Int>>.stride
        shardStride = (bounds.count + 2 + perCacheLine - 1) / perCacheLine * perCacheLine
        shardCount = shards
        let raw = UnsafeMutableRawPointer.allocate(byteCount: shardStride * shards * MemoryLayout<Atomic<Int>>.stride, alignment: 64)
        cells = raw.bindMemory(to: Atomic<Int>.self, capacity: shardStride * shards)
        for index in 0..<(shardStride * shards) {
            (cells + index).initialize(to: Atomic<Int>(0))
        }
    }

    deinit {
        cells.deinitialize(count: shardStride * shardCount)
        UnsafeMutableRawPointer(cells).deallocate()
        limits.deallocate()
    }

    /// Records one duration (negative ones count as zero).
    @inline(__always)
    public func record(_ duration: TimeAmount) {
        record(nanoseconds: duration.nanoseconds)
    }

    /// Records one duration in nanoseconds (negative ones count as zero).
    public func record(nanoseconds: Int64) {
        record(nanoseconds: nanoseconds, times: 1)
    }

    /// Records `times` observations of one duration in nanoseconds at the cost of one (negative ones count as
    /// zero).
    public func record(nanoseconds: Int64, times: Int) {
        let value = max(nanoseconds, 0)
        let shard = cells + (Self.currentThreadShard() & (shardCount - 1)) * shardStride
        shard[bucket(for: value)].wrappingAdd(times, ordering: .relaxed)
        shard[boundCount + 1].wrappingAdd(Int(truncatingIfNeeded: value) &* times, ordering: .relaxed)
    }

    /// The bucket of a duration in nanoseconds (not negative): the first bound at or above it.
    @inline(__always)
    private func bucket(for value: Int64) -> Int {
        var bucket = 0
        if boundCount <= 24 {
            while bucket < boundCount && value > limits[bucket] { bucket += 1 }
        } else {
            // By halving: the fine bounds are too many to walk.
            var high = boundCount
            while bucket < high {
                let middle = (bucket + high) / 2
                if value > limits[middle] { bucket = middle + 1 } else { high = middle }
            }
        }
        return bucket
    }

    /// Observations counted in plain memory by one caller, for ``add(_:)`` to add to the histogram in one go: a
    /// caller that records many at once (the intake, for the notifications of one request) pays two atomic adds
    /// per bucket it touched instead of two per observation.
    public struct Tally {
        fileprivate var counts: [Int]
        fileprivate var sum = 0
    }

    /// An empty tally for this histogram.
    public func makeTally() -> Tally {
        Tally(counts: [Int](repeating: 0, count: boundCount + 1))
    }

    /// Counts one duration in nanoseconds (negative ones count as zero) in `tally`, not yet in the histogram.
    public func record(nanoseconds: Int64, in tally: inout Tally) {
        let value = max(nanoseconds, 0)
        tally.counts[bucket(for: value)] += 1
        tally.sum &+= Int(truncatingIfNeeded: value)
    }

    /// Adds what `tally` counted to the histogram.
    public func add(_ tally: Tally) {
        let shard = cells + (Self.currentThreadShard() & (shardCount - 1)) * shardStride
        var any = false
        for (bucket, count) in tally.counts.enumerated() where count > 0 {
            shard[bucket].wrappingAdd(count, ordering: .relaxed)
            any = true
        }
        if any { shard[boundCount + 1].wrappingAdd(tally.sum, ordering: .relaxed) }
    }

    /// The sums over all shards.
    public func snapshot() -> HistogramSnapshot {
        var counts = [Int](repeating: 0, count: boundCount + 1)
        var sum = 0
        for shardIndex in 0..<shardCount {
            let shard = cells + shardIndex * shardStride
            for index in 0...boundCount {
                counts[index] += shard[index].load(ordering: .relaxed)
            }
            sum += shard[boundCount + 1].load(ordering: .relaxed)
        }
        return HistogramSnapshot(bounds: bounds, counts: counts, sumSeconds: Double(sum) / 1e9)
    }

    /// A number that differs between threads, cheaply: the thread's identity, mixed.
    @inline(__always)
    static func currentThreadShard() -> Int {
        #if canImport(Darwin)
        let id = UInt(bitPattern: pthread_self())
        #else
        let id = UInt(pthread_self())
        #endif
        return Int(truncatingIfNeeded: (id &* 0x9E37_79B9_7F4A_7C15) >> 56)
    }
}

/// A histogram's figures at one moment.
public struct HistogramSnapshot: Sendable, Hashable {
    /// Upper bounds in seconds, ascending.
    public var bounds: [Double]
    /// Observations per bucket, not cumulative: `counts[i]` fell in `(bounds[i-1], bounds[i]]`; the last entry
    /// counts those above every bound.
    public var counts: [Int]
    /// The sum of all observations, in seconds.
    public var sumSeconds: Double

    public init(bounds: [Double], counts: [Int], sumSeconds: Double) {
        self.bounds = bounds
        self.counts = counts
        self.sumSeconds = sumSeconds
    }

    /// How many observations there are.
    public var count: Int { counts.reduce(0, +) }

    /// A bound as Prometheus's `le` label and the `stats` reply write it: `0.0001`, `0.5`, `1`, `30`.
    public static func label(_ bound: Double) -> String {
        bound == bound.rounded() ? String(Int(bound)) : "\(bound)"
    }

    /// Observations at or below each bound, then the total (Prometheus's `le` buckets, `+Inf` last).
    public var cumulativeCounts: [Int] {
        var running = 0
        return counts.map { running += $0; return running }
    }
}
