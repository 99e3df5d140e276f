import Synchronization

/// A fixed number of counters, each a relaxed atomic, in one allocation: counting costs one atomic add, no lock
/// and no lookup. Counters that sit at index `i` are counted under a name the owner keeps beside the array
/// (an enum's ordinal, a reason's position in a list).
///
/// The storage is aligned to a cache line.
public final class AtomicCounterArray: Sendable {
    /// How many counters there are.
    public let count: Int
    private nonisolated(unsafe) let storage: UnsafeMutablePointer<Atomic<Int>>

    /// `count` counters, all zero.
    public init(count: Int) {
        precondition(count > 0)
        self.count = count
        let bytes = (count * MemoryLayout<Atomic<Int>>.stride + 63) / 64 * 64
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        storage = raw.bindMemory(to: Atomic<Int>.self, capacity: count)
        for index in 0..<count {
            (storage + index).initialize(to: Atomic<Int>(0))
        }
    }

    deinit {
        storage.deinitialize(count: count)
        UnsafeMutableRawPointer(storage).deallocate()
    }

    /// Adds `amount` to counter `index`.
    @inline(__always)
    public func add(_ index: Int, _ amount: Int = 1) {
        precondition(index >= 0 && index < count)
        storage[index].wrappingAdd(amount, ordering: .relaxed)
    }

    /// Counter `index` now.
    public func load(_ index: Int) -> Int {
        precondition(index >= 0 && index < count)
        return storage[index].load(ordering: .relaxed)
    }

    /// Every counter now (each read on its own: a snapshot of a moving set is not atomic as a whole).
    public func loadAll() -> [Int] {
        (0..<count).map { storage[$0].load(ordering: .relaxed) }
    }
}
