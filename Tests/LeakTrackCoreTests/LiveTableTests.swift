import LeakTrackTestSupport
import XCTest
@testable import LeakTrackCore

final class LiveTableTests: XCTestCase {
    /// 200,000 random operations against a Dictionary, with growth and deletions inside long probe runs.
    func testMatchesDictionaryUnderRandomOperations() {
        var generator = SeededGenerator(state: 99)
        let table = LiveTable(capacity: 16)
        var reference: [UInt64: LiveTable.Entry] = [:]
        // A small address space makes collisions and reuse frequent.
        for step in 0..<200_000 {
            let key = UInt64.random(in: 1...3000, using: &generator) * 16
            if Bool.random(using: &generator) {
                // Now and then a size or stack id that does not fit the packed slot, or the dropped stack.
                let size = step % 13 == 0 ? (1 << 36) + UInt64(step) : step % 17 == 0 ? (1 << 36) - 1 : UInt64(step)
                let stack: UInt32 =
                    step % 11 == 0 ? 0xFFFF_FFFF : step % 19 == 0 ? (1 << 28) + UInt32(step) : UInt32(step % 97)
                let entry = LiveTable.Entry(size: size, stack: stack)
                XCTAssertEqual(table.insert(key, size: entry.size, stack: entry.stack), reference[key])
                reference[key] = entry
            } else {
                XCTAssertEqual(table.remove(key), reference.removeValue(forKey: key))
            }
            if step % 10_000 == 0 { XCTAssertEqual(table.count, reference.count) }
        }
        XCTAssertEqual(table.count, reference.count)
        for (key, entry) in reference { XCTAssertEqual(table.lookup(key), entry) }
        var visited = 0
        table.forEach { key, entry in
            XCTAssertEqual(reference[key], entry)
            visited += 1
        }
        XCTAssertEqual(visited, reference.count)
    }

    func testRemoveAllGivesTheTableBackEmpty() {
        let table = LiveTable(capacity: 16)
        for key in 1...1000 as ClosedRange<UInt64> { table.insert(key * 16, size: key << 40, stack: 7) }
        XCTAssertEqual(table.lookup(16 * 500), LiveTable.Entry(size: 500 << 40, stack: 7))
        table.removeAll()
        XCTAssertEqual(table.count, 0)
        XCTAssertNil(table.lookup(16 * 500))
        table.insert(32, size: 1, stack: 1)
        XCTAssertEqual(table.lookup(32), LiveTable.Entry(size: 1, stack: 1))
    }

    /// Doubling moves entries in place; a probe run that wraps from the last slot to the first is the case
    /// that needs care (LiveTable.grow).
    func testGrowingKeepsARunThatWrapsPastTheEnd() {
        for capacity in [16, 64, 1024] {
            let table = LiveTable(capacity: capacity)
            var keys: [UInt64] = []
            var candidate: UInt64 = 0
            // A quarter of the entries at home in the last two slots, the rest elsewhere: as many as fit before
            // the table grows.
            while keys.count < capacity / 4 {
                candidate += 16
                if table.slot(for: candidate) >= capacity - 2 { keys.append(candidate) }
            }
            candidate = 0
            while keys.count < capacity * 3 / 4 {
                candidate += 16
                if table.slot(for: candidate) < capacity - 2 { keys.append(candidate) }
            }
            // The last two slots cannot hold a quarter of the table: their run wraps to the first slots.
            for (i, key) in keys.enumerated() { table.insert(key, size: UInt64(i), stack: 1) }
            XCTAssertEqual(
                table.lookup(keys[capacity / 4 - 1]), LiveTable.Entry(size: UInt64(capacity / 4 - 1), stack: 1))
            table.insert(1 << 40, size: 7, stack: 2) // one more: the table doubles
            keys.append(1 << 40)
            for (i, key) in keys.dropLast().enumerated() {
                XCTAssertEqual(
                    table.lookup(key), LiveTable.Entry(size: UInt64(i), stack: 1), "capacity \(capacity), key \(key)")
            }
            XCTAssertEqual(table.lookup(1 << 40), LiveTable.Entry(size: 7, stack: 2))
            for key in keys where key % 32 == 0 { XCTAssertNotNil(table.remove(key)) }
            for key in keys where key % 32 != 0 {
                XCTAssertNotNil(table.lookup(key), "capacity \(capacity), key \(key)")
            }
            XCTAssertEqual(table.count, keys.filter { $0 % 32 != 0 }.count)
        }
    }

    /// Both ways out of the table give every entry, sorted by stack id then address, whatever the entry:
    /// packed in its slot, oversized, dropped, a large stack id. More entries than one release chunk.
    func testSortedAllocationsAreTheEntriesByStackThenAddress() {
        var generator = SeededGenerator(state: 7)
        let table = LiveTable(capacity: 16)
        for step in 0..<200_000 {
            let key = UInt64.random(in: 1...(1 << 40), using: &generator) * 16
            let size = step % 101 == 0 ? (1 << 36) + UInt64(step) : UInt64.random(in: 0...(1 << 20), using: &generator)
            let stack: UInt32 =
                step % 89 == 0
                ? 0xFFFF_FFFF
                : step % 97 == 0
                    ? (1 << 28) + UInt32(step)
                    : step % 7 == 0 ? (1 << 27) + UInt32(step % 5) : UInt32.random(in: 0..<64, using: &generator)
            table.insert(key, size: size, stack: stack)
            if step % 3 == 0 { _ = table.remove(key) }
        }
        var expected: [LiveAllocation] = []
        table.forEach { expected.append(LiveAllocation(address: $0, size: $1.size, stack: $1.stack)) }
        expected.sort { ($0.stack, $0.address) < ($1.stack, $1.address) }
        XCTAssertGreaterThan(expected.count, 1 << 17)

        let count = table.count
        XCTAssertEqual(table.sortedAllocations(), expected)
        XCTAssertEqual(table.count, count) // left as it was
        XCTAssertEqual(table.lookup(expected[0].address)?.size, expected[0].size)

        XCTAssertEqual(table.takeSortedAllocations(), expected)
        XCTAssertEqual(table.count, 0)
        XCTAssertNil(table.lookup(expected[0].address))
        table.insert(32, size: 1, stack: 1)
        XCTAssertEqual(table.takeSortedAllocations(), [LiveAllocation(address: 32, size: 1, stack: 1)])
        XCTAssertEqual(table.takeSortedAllocations(), [])
        XCTAssertEqual(table.sortedAllocations(), [])
    }

    func testZeroIsNeverLive() {
        let table = LiveTable()
        XCTAssertNil(table.remove(0))
        XCTAssertNil(table.lookup(0))
    }
}
