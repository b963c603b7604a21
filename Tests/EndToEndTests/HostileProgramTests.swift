import Foundation
import XCTest

/// Programs that do what real programs sometimes do to the descriptors, signals and processes around them:
/// the shim must never touch what is theirs, never hang them, and still give the exact trace.
final class HostileProgramTests: EndToEndTestCase {
    override func setUpWithError() throws {
        try super.setUpWithError()
        try harness.compile(["hostile.c"], output: "hostile")
    }

    private var hostile: String { harness.path("hostile") }

    private func process(_ report: [String: Any]) -> [String: Any] { report["process"] as? [String: Any] ?? [:] }

    /// Runs `body`, and fails if it took `limit` seconds or more.
    private func within<T>(_ limit: TimeInterval, _ what: String, _ body: () throws -> T) rethrows -> T {
        let started = Date()
        let result = try body()
        let took = Date().timeIntervalSince(started)
        XCTAssertLessThan(took, limit, "\(what) took \(took) s")
        return result
    }

    /// The parent's and the child's traces of `hostile steal-fds`, which must be exact and complete.
    private func checkStealFdsTraces(parent: [String: Any], child: [String: Any]) {
        XCTAssertEqual(Leak.callSites(parent), [Leak(function: "leak_after_close", module: "hostile", bytes: 700, count: 7)])
        XCTAssertEqual(process(parent)["complete"] as? Bool, true)
        XCTAssertEqual(process(parent)["exitStatus"] as? Int, 3)
        XCTAssertEqual(Leak.callSites(child), [Leak(function: "child_after_close", module: "hostile", bytes: 300, count: 3)])
        XCTAssertEqual(process(child)["complete"] as? Bool, true)
    }

    func testReturningFromMainRecordsTheExitStatus() throws {
        let recorded = try harness.run([harness.leaktrack, "record", "-o", harness.path("out.trace"), "--", hostile, "return", "4"])
        XCTAssertEqual(recorded.status, 4, recorded.stderr)
        let report = try harness.reportJSON(harness.path("out.trace"))
        XCTAssertEqual(process(report)["exitStatus"] as? Int, 4)
        XCTAssertEqual(Leak.callSites(report), [Leak(function: "leak_before_return", module: "hostile", bytes: 8, count: 1)])
    }
}
