import CLeakTrackWire

#if canImport(Glibc)
    import Glibc
#endif

/// The live allocations of one process: address -> (size, stack id, when, which thread).
///
/// An open-addressing hash table with linear probing over plain unsafe buffers. It is the collector's hot
/// spot (one insert or remove per event): Swift's `Dictionary` measured ~18 M operations/s here, this kind of
/// table 46-65 M/s, with no ARC or copy-on-write traffic. Deletion shifts the following entries back instead
/// of leaving tombstones, so lookups never degrade over a long run. Address 0 marks an empty slot (the
/// allocator never returns it as a live block).
public final class LiveTable {
    public struct Entry: Equatable {
        public var size: UInt64
        public var stack: UInt32
        /// When it was allocated (`LiveAllocation.stamp`).
        public var stamp: UInt32 = 0
        /// The allocating thread's ordinal, 0 if unknown.
        public var thread: UInt16 = 0

        public init(size: UInt64, stack: UInt32, stamp: UInt32 = 0, thread: UInt16 = 0) {
            self.size = size
            self.stack = stack
            self.stamp = stamp
            self.thread = thread
        }
    }

    /// Address, then size and stack packed in one word, then the stamp and the thread: 24 bytes a slot, so
    /// 32-64 bytes per live allocation between the table's highest and lowest load (3/4 and 3/8; it doubles
    /// in place), and one cache line per operation. Sizes of 64 GiB and more, or stack ids beyond 2^28 - 2,
    /// do not fit: such an entry keeps a marker in its slot and its size and stack in `oversized`.
    fileprivate struct Slot {
        var key: UInt64
        var packed: UInt64
        var stamp: UInt32 = 0
        var thread: UInt16 = 0
    }

    private static let sizeBits: UInt64 = 36
    private static let sizeMask: UInt64 = (1 << sizeBits) - 1
    /// The size field's all-ones value: "the entry is in `oversized`".
    private static let oversizedMarker: UInt64 = sizeMask
    /// The stack field's all-ones value stands for SpecialStack.dropped (LT_DROPPED_STACK, 0xFFFFFFFF).
    private static let droppedCode: UInt64 = (1 << (64 - sizeBits)) - 1

    private var slots: UnsafeMutablePointer<Slot>
    private var capacity: Int
    private var mask: Int
    private var oversized: [UInt64: Entry] = [:]
    public private(set) var count = 0

    public init(capacity requested: Int = 1 << 16) {
        var capacity = 16
        while capacity < requested { capacity <<= 1 }
        self.capacity = capacity
        self.mask = capacity - 1
        slots = LiveTable.emptySlots(capacity)
    }

    deinit {
        free(slots)
    }

    // The slots are malloc'd, not `UnsafeMutablePointer.allocate`d: `calloc` hands out a large table as
    // zero pages without a pass of its own (an all-zero slot is empty), and `realloc` grows a large table
    // without copying it (`grow`) and gives a shrinking buffer's tail back (`sortedAllocations`).
    private static func emptySlots(_ capacity: Int) -> UnsafeMutablePointer<Slot> {
        guard let raw = calloc(capacity, MemoryLayout<Slot>.stride) else {
            fatalError("leaktrack: out of memory for a live table of \(capacity) slots")
        }
        return raw.bindMemory(to: Slot.self, capacity: capacity)
    }

    /// The home slot of `key` (internal for the tests that build probe runs on purpose).
    @inline(__always)
    func slot(for key: UInt64) -> Int {
        // Allocator addresses share low bits (alignment) and high bits; a multiplicative mix spreads them.
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 20) & mask
    }

    /// The packed word for an entry, or nil if it does not fit.
    @inline(__always)
    private static func pack(_ size: UInt64, _ stack: UInt32) -> UInt64? {
        let code = stack == UInt32(LT_DROPPED_STACK) ? droppedCode : UInt64(stack)
        guard size < oversizedMarker, code < droppedCode || stack == UInt32(LT_DROPPED_STACK) else { return nil }
        return size | code << sizeBits
    }

    @inline(__always)
    private func entry(at i: Int) -> Entry {
        let packed = slots[i].packed
        let size = packed & LiveTable.sizeMask
        if size == LiveTable.oversizedMarker {
            var entry = oversized[slots[i].key]!
            entry.stamp = slots[i].stamp
            entry.thread = slots[i].thread
            return entry
        }
        let code = packed >> LiveTable.sizeBits
        return Entry(
            size: size, stack: code == LiveTable.droppedCode ? UInt32(LT_DROPPED_STACK) : UInt32(code),
            stamp: slots[i].stamp, thread: slots[i].thread)
    }

    @inline(__always)
    private func store(_ key: UInt64, size: UInt64, stack: UInt32, stamp: UInt32, thread: UInt16, at i: Int) {
        if let packed = LiveTable.pack(size, stack) {
            slots[i] = Slot(key: key, packed: packed, stamp: stamp, thread: thread)
        } else {
            slots[i] = Slot(key: key, packed: LiveTable.oversizedMarker, stamp: stamp, thread: thread)
            oversized[key] = Entry(size: size, stack: stack)
        }
    }

    /// Inserts or replaces; returns the entry that was there before, if any.
    @discardableResult
    public func insert(_ key: UInt64, size: UInt64, stack: UInt32, stamp: UInt32 = 0, thread: UInt16 = 0) -> Entry? {
        precondition(key != 0, "address 0 cannot be live")
        if (count + 1) * 4 > capacity * 3 { grow() }
        var i = slot(for: key)
        while true {
            let k = slots[i].key
            if k == 0 {
                store(key, size: size, stack: stack, stamp: stamp, thread: thread, at: i)
                count += 1
                return nil
            }
            if k == key {
                let old = entry(at: i)
                oversized[key] = nil
                store(key, size: size, stack: stack, stamp: stamp, thread: thread, at: i)
                return old
            }
            i = (i + 1) & mask
        }
    }

    /// Removes and returns the entry for `key`, or nil if it is not live.
    public func remove(_ key: UInt64) -> Entry? {
        guard key != 0 else { return nil }
        var i = slot(for: key)
        while true {
            let k = slots[i].key
            if k == 0 { return nil }
            if k == key { break }
            i = (i + 1) & mask
        }
        let removed = entry(at: i)
        if slots[i].packed & LiveTable.sizeMask == LiveTable.oversizedMarker { oversized[key] = nil }
        // Backward-shift deletion: pull later entries of the run into the hole when their home allows it.
        var hole = i
        var j = (i + 1) & mask
        while slots[j].key != 0 {
            let home = slot(for: slots[j].key)
            // Move j into the hole unless its home lies cyclically in (hole, j].
            let distanceToJ = (j - home) & mask
            let distanceToHole = (hole - home) & mask
            if distanceToHole < distanceToJ {
                slots[hole] = slots[j]
                hole = j
            }
            j = (j + 1) & mask
        }
        slots[hole].key = 0
        count -= 1
        return removed
    }

    public func lookup(_ key: UInt64) -> Entry? {
        guard key != 0 else { return nil }
        var i = slot(for: key)
        while true {
            let k = slots[i].key
            if k == 0 { return nil }
            if k == key { return entry(at: i) }
            i = (i + 1) & mask
        }
    }

    /// Visits every live entry, in no particular order.
    public func forEach(_ body: (UInt64, Entry) throws -> Void) rethrows {
        for i in 0..<capacity where slots[i].key != 0 {
            try body(slots[i].key, entry(at: i))
        }
    }

    /// Forgets every entry and gives the memory back (the table stays usable, at its smallest).
    public func removeAll() {
        free(slots)
        capacity = 16
        mask = capacity - 1
        slots = LiveTable.emptySlots(capacity)
        oversized = [:]
        count = 0
    }

    /// Doubles the table in place: `realloc` (for a large table, `mremap`: no copy, and never the old and the
    /// new table resident at once), then every entry moves to its home under the new mask, or past it.
    ///
    /// Why in place is sound: with the mask one bit wider, an entry's home stays where it was (h) or moves up by
    /// the old capacity (h + C). Entries are taken out and put back one at a time, in slot order, so that a
    /// probe run never crosses a slot that will still be emptied: an entry at p has every slot from h to p in
    /// its run, all already handled, and p itself just freed, so it lands at p or before; one going up lands in
    /// the new half, from which nothing is ever taken out. Only a run that wrapped from the end of the old table
    /// to its start breaks the "h before p" order: that run (the slots before the first empty one) is taken out
    /// first and put back last, by ordinary insertion into the finished table.
    private func grow() {
        let oldCapacity = capacity
        guard let raw = realloc(slots, 2 * oldCapacity * MemoryLayout<Slot>.stride) else {
            fatalError("leaktrack: out of memory for a live table of \(2 * oldCapacity) slots")
        }
        slots = raw.bindMemory(to: Slot.self, capacity: 2 * oldCapacity)
        (slots + oldCapacity).initialize(repeating: Slot(key: 0, packed: 0), count: oldCapacity)
        capacity *= 2
        mask = capacity - 1
        // Entries move with their packed word (markers included): `oversized` is keyed by address.
        var leading: [Slot] = []
        var first = 0
        while slots[first].key != 0 { // ends: at most 3/4 of the old slots are full
            leading.append(slots[first])
            slots[first] = Slot(key: 0, packed: 0)
            first += 1
        }
        for p in first..<oldCapacity where slots[p].key != 0 {
            let moving = slots[p]
            slots[p] = Slot(key: 0, packed: 0)
            place(moving)
        }
        for moving in leading { place(moving) }
    }

    @inline(__always)
    private func place(_ moving: Slot) {
        var j = slot(for: moving.key)
        while slots[j].key != 0 { j = (j + 1) & mask }
        slots[j] = moving
    }

    // MARK: the end of a stream

    /// Empties the table and returns its entries in the trace's order: by stack id, then address. The slots
    /// themselves are the working space: compacted and shrunk to 16 bytes an entry, sorted (with a second
    /// buffer as large, 32 bytes an entry), then given back to the allocator chunk by chunk while the result
    /// (24 bytes an entry) fills: the table and the result are never resident together.
    public func takeSortedAllocations() -> [LiveAllocation] {
        take().sorted()
    }

    /// Empties the table into a `Copy`, compacting the slots in place (no second buffer).
    public func take() -> Copy {
        var n = 0
        for i in 0..<capacity where slots[i].key != 0 {
            slots[n] = slots[i]
            n += 1
        }
        let work = slots, values = oversized
        slots = LiveTable.emptySlots(16)
        capacity = 16
        mask = capacity - 1
        oversized = [:]
        count = 0
        return Copy(work: work, count: n, oversized: values)
    }

    /// The entries in the order of `takeSortedAllocations`, leaving the table as it is.
    public func sortedAllocations() -> [LiveAllocation] {
        copy().sorted()
    }

    /// The live entries copied out as they are (one pass over the slots, no sorting), to be sorted later,
    /// maybe on another thread: a snapshot holds up the stream only for this copy.
    public func copy() -> Copy {
        guard let raw = malloc(Swift.max(count, 1) * MemoryLayout<Slot>.stride) else {
            fatalError("leaktrack: out of memory for \(count) live allocations")
        }
        let work = raw.bindMemory(to: Slot.self, capacity: Swift.max(count, 1))
        var n = 0
        for i in 0..<capacity where slots[i].key != 0 {
            work[n] = slots[i]
            n += 1
        }
        return Copy(work: work, count: n, oversized: oversized)
    }

    /// A copy of the live entries (`copy`), owned by whoever holds it; `sorted` consumes it, once.
    public final class Copy: @unchecked Sendable {
        private var work: UnsafeMutablePointer<Slot>?
        private let n: Int
        private let oversized: [UInt64: Entry]

        fileprivate init(work: UnsafeMutablePointer<Slot>, count: Int, oversized: [UInt64: Entry]) {
            self.work = work
            self.n = count
            self.oversized = oversized
        }

        deinit {
            if let work { free(work) }
        }

        public var count: Int { n }

        /// The entries in the trace's order (by stack id, then address); the copy is empty afterwards.
        public func sorted() -> [LiveAllocation] {
            guard let taken = work else { return [] }
            work = nil
            return LiveTable.sortedAllocations(consuming: taken, count: n, oversized: oversized)
        }
    }

    /// Slots given back to the allocator at a time while the result of `sortedAllocations` fills: 1 MiB.
    private static let releaseChunk = 1 << 16

    /// Sorts `count` compacted slots at `work` (malloc'd; freed here) into live allocations.
    fileprivate static func sortedAllocations(
        consuming work: UnsafeMutablePointer<Slot>, count n: Int, oversized: [UInt64: Entry]
    ) -> [LiveAllocation] {
        var work = work
        // Entries whose values are in `oversized` go to the end and are sorted apart (they are rare).
        var packed = n
        var i = 0
        while i < packed {
            if work[i].packed & sizeMask == oversizedMarker {
                packed -= 1
                (work[i], work[packed]) = (work[packed], work[i])
            } else {
                i += 1
            }
        }
        let apart = (packed..<n).map { j -> LiveAllocation in
            let entry = oversized[work[j].key]!
            return LiveAllocation(
                address: work[j].key, size: entry.size, stack: entry.stack, stamp: work[j].stamp,
                thread: work[j].thread)
        }.sorted { ($0.stack, $0.address) < ($1.stack, $1.address) }
        work = shrink(work, to: packed)
        // Among packed slots the stack field orders like the stack id: ids below droppedCode are themselves,
        // and droppedCode, the largest field value, stands for the largest id (SpecialStack.dropped).
        work = radixSort(work, count: packed)
        // Merge the two sorted runs from their ends, so that the slots already copied out, at the end of
        // `work`, can be given back as the result grows.
        return [LiveAllocation](unsafeUninitializedCapacity: n) { result, initialized in
            var next = packed, nextApart = apart.count, kept = packed
            for o in stride(from: n - 1, through: 0, by: -1) {
                var fromApart = nextApart > 0
                if fromApart, next > 0 {
                    let a = apart[nextApart - 1], slot = work[next - 1]
                    fromApart = (a.stack, a.address) > (stack(slot), slot.key)
                }
                if fromApart {
                    nextApart -= 1
                    result[o] = apart[nextApart]
                } else {
                    next -= 1
                    let slot = work[next]
                    result[o] = LiveAllocation(
                        address: slot.key, size: slot.packed & sizeMask, stack: stack(slot), stamp: slot.stamp,
                        thread: slot.thread)
                    if kept - next >= releaseChunk {
                        work = shrink(work, to: next)
                        kept = next
                    }
                }
            }
            initialized = n
            free(work)
        }
    }

    /// Sorts `n` slots at `work` (malloc'd) by (stack field, address) and returns the buffer that holds them
    /// (`work` or its replacement; the other is freed). A least-significant-digit radix sort, one byte a pass,
    /// over the address's 8 bytes then the stack field's 4, skipping every byte that all entries share (the
    /// high bytes of the heap's addresses, a program's few stack ids): four or five passes where a merge sort
    /// would make twenty-odd, at the price of a second buffer of the same size for the passes to move between.
    private static func radixSort(_ work: UnsafeMutablePointer<Slot>, count n: Int) -> UnsafeMutablePointer<Slot> {
        guard n > 1 else { return work }
        var keyOr: UInt64 = 0, keyAnd: UInt64 = ~0, stackOr: UInt64 = 0, stackAnd: UInt64 = ~0
        for i in 0..<n {
            keyOr |= work[i].key
            keyAnd &= work[i].key
            stackOr |= work[i].packed >> sizeBits
            stackAnd &= work[i].packed >> sizeBits
        }
        let keyVaries = keyOr ^ keyAnd, stackVaries = stackOr ^ stackAnd
        guard keyVaries | stackVaries != 0, let raw = malloc(n * MemoryLayout<Slot>.stride) else {
            // All alike (impossible: keys are distinct), or no memory for the passes: sort in place instead.
            var buffer = UnsafeMutableBufferPointer(start: work, count: n)
            buffer.sort { ($0.packed >> sizeBits, $0.key) < ($1.packed >> sizeBits, $1.key) }
            return work
        }
        var from = work, to = raw.bindMemory(to: Slot.self, capacity: n)
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: 256)
        defer { counts.deallocate() }
        // Digit d of a slot: byte d of the address for d < 8, byte d - 8 of the stack field after that.
        for d in 0..<12 where (d < 8 ? keyVaries >> (8 * d) : stackVaries >> (8 * (d - 8))) & 0xFF != 0 {
            let (word, shift) = d < 8 ? (0, UInt64(8 * d)) : (1, UInt64(8 * (d - 8)) + sizeBits)
            @inline(__always) func digit(_ slot: Slot) -> Int {
                Int(truncatingIfNeeded: ((word == 0 ? slot.key : slot.packed) >> shift) & 0xFF)
            }
            counts.initialize(repeating: 0, count: 256)
            for i in 0..<n { counts[digit(from[i])] &+= 1 }
            var sum = 0
            for b in 0..<256 {
                let c = counts[b]
                counts[b] = sum
                sum &+= c
            }
            // In order, so each pass keeps the order of the ones before it among equal digits.
            for i in 0..<n {
                let slot = from[i]
                let b = digit(slot)
                to[counts[b]] = slot
                counts[b] &+= 1
            }
            swap(&from, &to)
        }
        free(to)
        return from
    }

    @inline(__always)
    private static func stack(_ slot: Slot) -> UInt32 {
        let code = slot.packed >> sizeBits
        return code == droppedCode ? UInt32(LT_DROPPED_STACK) : UInt32(code)
    }

    /// `realloc` down to `count` slots (at least one): the tail of a large buffer goes back to the system.
    private static func shrink(_ slots: UnsafeMutablePointer<Slot>, to count: Int) -> UnsafeMutablePointer<Slot> {
        let bytes = Swift.max(count, 1) * MemoryLayout<Slot>.stride
        guard let raw = realloc(slots, bytes) else { return slots } // the old buffer is still valid
        return raw.bindMemory(to: Slot.self, capacity: Swift.max(count, 1))
    }
}
