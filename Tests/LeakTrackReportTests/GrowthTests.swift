import LeakTrackCore
import XCTest

@testable import LeakTrackReport

/// The growth verdicts on series with known shapes.
final class GrowthTests: XCTestCase {
    private let seconds: [UInt64] = (1...8).map { UInt64($0) * 500_000_000 }
    private var allocations: [UInt64] { (1...8).map { UInt64($0) * 40_000 } }

    private func verdict(_ bytes: [UInt64], counts: [UInt64]? = nil) -> SiteGrowth {
        GrowthAnalysis.analyze(
            times: seconds, allocations: allocations, bytes: bytes, counts: counts ?? bytes.map { $0 / 100 })
    }

    func testALinearClimbIsGrowingWithItsRate() {
        let growth = verdict((1...8).map { UInt64($0) * 44_000 })
        XCTAssertEqual(growth.verdict, .growing)
        XCTAssertEqual(growth.bytesPerHour, 44_000 * 2 * 3600, accuracy: 1)
        XCTAssertEqual(growth.bytesPerMillionAllocations, 44_000.0 / 40_000 * 1e6, accuracy: 1)
        XCTAssertEqual(growth.steadiness, 1, accuracy: 1e-9)
    }

    func testACacheThatFillsAndStopsIsBounded() {
        XCTAssertEqual(
            verdict([446_464, 899_072, 1_024_000, 1_024_000, 1_024_000, 1_024_000, 1_024_000, 1_024_000]).verdict,
            .bounded)
    }

    func testChurnAroundALevelIsStable() {
        XCTAssertEqual(verdict([64_100, 63_900, 64_300, 63_800, 64_000, 64_200, 63_900, 64_100]).verdict, .stable)
        XCTAssertEqual(verdict([0, 64, 0, 0, 128, 0, 64, 0], counts: [0, 1, 0, 0, 2, 0, 1, 0]).verdict, .stable)
    }

    func testAClimbThatLevelledOffHalfwayIsNotGrowing() {
        XCTAssertEqual(verdict([100, 200, 300, 400, 400, 400, 400, 400].map { $0 * 1000 }).verdict, .bounded)
    }

    func testAnyDurationAndAnyTimesFromAFileRender() {
        // A crafted trace: the longest duration there is, snapshots and samples at any times.
        var trace = Trace(
            process: ProcessSummary(
                pid: 1, ppid: 0, executable: "/bin/x", arguments: [], forked: false, startTime: 0,
                durationNanoseconds: .max, complete: true, exitStatus: 0),
            modules: [], frames: [], stacks: [Stack(frames: []), Stack(frames: [], liveCount: 3, liveBytes: 30)],
            live: (1...3).map { LiveAllocation(address: UInt64($0) * 16, size: 10, stack: 1, stamp: .max) },
            totals: Totals(), lost: ShimCounters(),
            samples: [.max, 0, 5].map { MemorySample(time: $0, residentBytes: $0, virtualBytes: 0, heapBytes: 0) })
        trace.snapshots = [UInt64.max, 0, 7, .max].enumerated().map { i, time in
            SnapshotSummary(
                index: i + 1, time: time, trigger: "every",
                stacks: [StackAmount(stack: 1, count: UInt64(i), bytes: .max)])
        }
        let report = LeakReport(trace: trace)
        XCTAssertFalse(TextRenderer().render(report).isEmpty)
        XCTAssertFalse(JSONRenderer().render(report).isEmpty)
        XCTAssertNotNil(BlockReport(trace: trace, address: 20).map { BlockTextRenderer().render($0) })
    }

    func testThreePointsAreEnough() {
        let times: [UInt64] = [1, 2, 3].map { $0 * 1_000_000_000 }
        let growing = GrowthAnalysis.analyze(
            times: times, allocations: [1, 2, 3], bytes: [1000, 2000, 3000], counts: [10, 20, 30])
        XCTAssertEqual(growing.verdict, .growing)
        let bounded = GrowthAnalysis.analyze(
            times: times, allocations: [1, 2, 3], bytes: [1000, 3000, 3000], counts: [10, 30, 30])
        XCTAssertEqual(bounded.verdict, .bounded)
    }
}
