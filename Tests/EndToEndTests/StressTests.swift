import Foundation
import XCTest

/// Many threads, cross-thread frees and the smallest ring, so producers wait on the collector all the time:
/// every count must still be exact. `scripts/torture --full` runs it at 8 x 10 million allocations.
final class StressTests: EndToEndTestCase {
    func testEightThreadsWithCrossThreadFreesOnTheSmallestRingCountExactly() throws {
        let full = ProcessInfo.processInfo.environment["LEAKTRACK_TORTURE_FULL"] == "1"
        let perThread = full ? 10_000_000 : 400_000
        try harness.compile(["stress.c"], output: "stress", flags: ["-O2", "-lpthread"])
        let result = try harness.record(
            [harness.path("stress"), "\(perThread)"], trace: "stress.trace",
            environment: ["LEAKTRACK_BUFFER_SIZE": "64K"],
            timeout: full ? 1800 : 300)
        XCTAssertEqual(result.status, 0, result.stderr)
        let report = try harness.reportJSON(harness.path("stress.trace"))
        XCTAssertEqual(
            Leak.callSites(report), [Leak(function: "stress_leak", module: "stress", bytes: 80 * 32, count: 80)])
        // The program's own allocations, plus whatever the C runtime allocated for its threads.
        let allocations = report.totals.allocations
        XCTAssertGreaterThanOrEqual(allocations, 8 * (perThread + 10))
        XCTAssertLessThan(allocations, 8 * (perThread + 10) + 100)
        XCTAssertEqual(report.totals.unknownFrees, 0)
        XCTAssertEqual(report.lost.stacksDropped, 0, "\(report.lost)")
    }
}
