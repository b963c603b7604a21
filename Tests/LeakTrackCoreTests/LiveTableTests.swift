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
                let stack: UInt32 = step % 11 == 0 ? 0xFFFF_FFFF : step % 19 == 0 ? (1 << 28) + UInt32(step) : UInt32(step % 97)
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

    func testZeroIsNeverLive() {
        let table = LiveTable()
        XCTAssertNil(table.remove(0))
        XCTAssertNil(table.lookup(0))
    }
}
