#if canImport(Glibc)
    import Glibc
#endif

/// The live allocations of one process: address -> (size, stack id).
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
    }

    /// Address, then size and stack packed in one word: 16 bytes a slot, so 21-43 bytes per live allocation
    /// between the table's highest and lowest load (3/4 and 3/8; it doubles in place), and one cache line per
    /// operation. Sizes of 64 GiB and more, or stack ids
    /// beyond 2^28 - 2, do not fit: such an entry keeps a marker in its slot and its values in `oversized`.
    private struct Slot {
        var key: UInt64
        var packed: UInt64
    }

    private static let sizeBits: UInt64 = 36
    private static let sizeMask: UInt64 = (1 << sizeBits) - 1
    /// The size field's all-ones value: "the entry is in `oversized`".
    private static let oversizedMarker: UInt64 = sizeMask
    /// The stack field's all-ones value stands for SpecialStack.dropped (0xFFFFFFFF).
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
    // without copying it (`grow`).
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
        let code = stack == 0xFFFF_FFFF ? droppedCode : UInt64(stack)
        guard size < oversizedMarker, code < droppedCode || stack == 0xFFFF_FFFF else { return nil }
        return size | code << sizeBits
    }

    @inline(__always)
    private func entry(at i: Int) -> Entry {
        let packed = slots[i].packed
        let size = packed & LiveTable.sizeMask
        if size == LiveTable.oversizedMarker { return oversized[slots[i].key]! }
        let code = packed >> LiveTable.sizeBits
        return Entry(size: size, stack: code == LiveTable.droppedCode ? 0xFFFF_FFFF : UInt32(code))
    }

    @inline(__always)
    private func store(_ key: UInt64, size: UInt64, stack: UInt32, at i: Int) {
        if let packed = LiveTable.pack(size, stack) {
            slots[i] = Slot(key: key, packed: packed)
        } else {
            slots[i] = Slot(key: key, packed: LiveTable.oversizedMarker)
            oversized[key] = Entry(size: size, stack: stack)
        }
    }

    /// Inserts or replaces; returns the entry that was there before, if any.
    @discardableResult
    public func insert(_ key: UInt64, size: UInt64, stack: UInt32) -> Entry? {
        precondition(key != 0, "address 0 cannot be live")
        if (count + 1) * 4 > capacity * 3 { grow() }
        var i = slot(for: key)
        while true {
            let k = slots[i].key
            if k == 0 {
                store(key, size: size, stack: stack, at: i)
                count += 1
                return nil
            }
            if k == key {
                let old = entry(at: i)
                oversized[key] = nil
                store(key, size: size, stack: stack, at: i)
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
        while slots[first].key != 0 {  // ends: at most 3/4 of the old slots are full
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
}
