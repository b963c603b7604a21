import LeakTrackCore
import XCTest

@testable import LeakTrackCollector

/// DebugDiag's leak rule, as the collector reads it and follows it.
final class SnapshotPlanTests: XCTestCase {
    func testRulesParseAndBadOnesSayWhy() throws {
        XCTAssertEqual(
            try SnapshotRule.parse("resident=800M,+100M"),
            SnapshotRule(counter: .resident, first: 800 << 20, step: 100 << 20))
        XCTAssertEqual(try SnapshotRule.parse("virtual=1G"), SnapshotRule(counter: .virtual, first: 1 << 30))
        for bad in ["resident", "rss=1M", "heap=", "heap=1M,100M", "heap=1M,+0", "heap=1M,+1M,+2M"] {
            XCTAssertThrowsError(try SnapshotRule.parse(bad), bad) { error in
                XCTAssertTrue("\(error)".contains("COUNTER=SIZE[,+STEP]"), "\(error)")
            }
        }
        let plan = try SnapshotPlan.fromEnvironment([
            "LEAKTRACK_INTERVAL": "250ms", "LEAKTRACK_SNAPSHOT_AT": "heap=1M;private=2M,+1M",
            "LEAKTRACK_SNAPSHOT_EVERY": "10m",
        ])
        XCTAssertEqual(plan.interval, 250_000_000)
        XCTAssertEqual(plan.rules.map(\.counter), [.heap, .private])
        XCTAssertEqual(plan.every, 600_000_000_000)
        XCTAssertThrowsError(try SnapshotPlan.fromEnvironment(["LEAKTRACK_INTERVAL": "1ms"]))
        XCTAssertThrowsError(try SnapshotPlan.fromEnvironment(["LEAKTRACK_SNAPSHOT_EVERY": "never"]))
    }

    func testThresholdsFireOncePerStepAndSkipStepsPassedAtOnce() throws {
        var triggers = SnapshotTriggers(
            plan: SnapshotPlan(rules: [try SnapshotRule.parse("resident=800M,+100M")], every: 600_000_000_000))
        func sample(_ mib: UInt64, at seconds: UInt64) -> [String] {
            triggers.due(
                MemorySample(time: seconds * 1_000_000_000, residentBytes: mib << 20, virtualBytes: 0, heapBytes: 0))
        }
        XCTAssertEqual(sample(700, at: 1), [])
        XCTAssertEqual(sample(800, at: 2), ["resident>=800M"])
        XCTAssertEqual(sample(850, at: 3), [])
        XCTAssertEqual(sample(1050, at: 4), ["resident>=900M"], "one snapshot for three steps passed at once")
        XCTAssertEqual(sample(1099, at: 5), [])
        XCTAssertEqual(sample(1100, at: 6), ["resident>=1100M"])
        XCTAssertEqual(sample(1100, at: 600), ["every"])
        XCTAssertEqual(sample(1100, at: 700), [])
        XCTAssertEqual(sample(1100, at: 1201), ["every"])
    }
}
