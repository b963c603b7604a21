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

    /// Address, then size and stack packed in one word: 16 bytes a slot, so at most 64 per live allocation at
    /// the table's lowest load, and one cache line per operation. Sizes of 64 GiB and more, or stack ids
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
        slots.deallocate()
    }

    private static func emptySlots(_ capacity: Int) -> UnsafeMutablePointer<Slot> {
        let slots = UnsafeMutablePointer<Slot>.allocate(capacity: capacity)
        slots.initialize(repeating: Slot(key: 0, packed: 0), count: capacity)
        return slots
    }

    @inline(__always)
    private func slot(for key: UInt64) -> Int {
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
        slots.deallocate()
        capacity = 16
        mask = capacity - 1
        slots = LiveTable.emptySlots(capacity)
        oversized = [:]
        count = 0
    }

    private func grow() {
        let old = slots, oldCapacity = capacity
        capacity *= 2
        mask = capacity - 1
        slots = LiveTable.emptySlots(capacity)
        // Entries move with their packed word (markers included): `oversized` is keyed by address.
        for i in 0..<oldCapacity where old[i].key != 0 {
            var j = slot(for: old[i].key)
            while slots[j].key != 0 { j = (j + 1) & mask }
            slots[j] = old[i]
        }
        old.deallocate()
    }
}
