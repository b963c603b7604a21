/// Per-stack counters indexed by stack id, in plain growable buffers: updated on every allocation and free,
/// so they stay out of Swift arrays of structs (copy-on-write checks, exclusivity checks, ARC).
final class StackCounters {
    private(set) var count = 0
    private var capacity = 0
    private(set) var allocations: UnsafeMutablePointer<UInt64>
    private(set) var allocatedBytes: UnsafeMutablePointer<UInt64>
    private(set) var liveCount: UnsafeMutablePointer<UInt64>
    private(set) var liveBytes: UnsafeMutablePointer<UInt64>

    init() {
        capacity = 1024
        allocations = .allocate(capacity: capacity)
        allocatedBytes = .allocate(capacity: capacity)
        liveCount = .allocate(capacity: capacity)
        liveBytes = .allocate(capacity: capacity)
        for buffer in [allocations, allocatedBytes, liveCount, liveBytes] {
            buffer.initialize(repeating: 0, count: capacity)
        }
    }

    deinit {
        for buffer in [allocations, allocatedBytes, liveCount, liveBytes] { buffer.deallocate() }
    }

    /// Makes `id` a valid index.
    @inline(__always)
    func ensure(_ id: Int) {
        if id >= count {
            if id >= capacity { grow(to: id + 1) }
            count = id + 1
        }
    }

    private func grow(to needed: Int) {
        var newCapacity = capacity
        while newCapacity < needed { newCapacity *= 2 }
        func moved(_ old: UnsafeMutablePointer<UInt64>) -> UnsafeMutablePointer<UInt64> {
            let new = UnsafeMutablePointer<UInt64>.allocate(capacity: newCapacity)
            new.moveInitialize(from: old, count: capacity)
            (new + capacity).initialize(repeating: 0, count: newCapacity - capacity)
            old.deallocate()
            return new
        }
        allocations = moved(allocations)
        allocatedBytes = moved(allocatedBytes)
        liveCount = moved(liveCount)
        liveBytes = moved(liveBytes)
        capacity = newCapacity
    }
}
