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
                let entry = LiveTable.Entry(size: UInt64(step), stack: UInt32(step % 97))
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

    func testZeroIsNeverLive() {
        let table = LiveTable()
        XCTAssertNil(table.remove(0))
        XCTAssertNil(table.lookup(0))
    }
}
