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
