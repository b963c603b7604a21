import Foundation
import XCTest

/// `leaktrack diff OLD NEW`: per call site, what each trace holds and the difference, the largest growth first.
final class DiffTests: EndToEndTestCase {
    struct DiffJSON: Decodable {
        struct Site: Decodable {
            var function: String
            var module: String
            var line: Int?
            var bytes: Int
            var count: Int
            var oldBytes: Int
            var oldCount: Int
            var deltaBytes: Int
            var deltaCount: Int
        }
        var callSites: [Site]
    }

    func testTheDiffOfTwoRunsIsTheDifferenceOfTheirReports() throws {
        let build = try harness.run([Harness.packageRoot + "/examples/demo-server/build.sh", harness.directory])
        XCTAssertEqual(build.status, 0, build.stderr)
        for requests in [100, 300] {
            let recorded = try harness.record(
                [harness.path("demo-server"), String(requests)], trace: "d\(requests).trace")
            XCTAssertEqual(recorded.status, 0, recorded.stderr)
        }
        let old = try harness.reportJSON(harness.path("d100.trace"))
        let new = try harness.reportJSON(harness.path("d300.trace"))
        let result = try harness.run(
            [harness.leaktrack, "diff", "--format", "json", harness.path("d100.trace"), harness.path("d300.trace")])
        XCTAssertEqual(result.status, 0, result.stderr)
        let diff = try DiffJSON.decode(result.stdout)

        // Every call site of either report, with exactly its bytes and counts in each and their difference.
        func key(_ function: String, _ module: String, _ line: Int?) -> String { "\(module) \(function) \(line ?? 0)" }
        var expected: [String: (old: (Int, Int), new: (Int, Int))] = [:]
        for site in old.callSites {
            expected[key(site.function, site.module, site.line), default: ((0, 0), (0, 0))].old = (
                site.bytes, site.count
            )
        }
        for site in new.callSites {
            expected[key(site.function, site.module, site.line), default: ((0, 0), (0, 0))].new = (
                site.bytes, site.count
            )
        }
        XCTAssertEqual(diff.callSites.count, expected.count)
        for site in diff.callSites {
            let want = try XCTUnwrap(expected[key(site.function, site.module, site.line)], site.function)
            XCTAssertEqual(
                [site.oldBytes, site.oldCount, site.bytes, site.count],
                [want.old.0, want.old.1, want.new.0, want.new.1])
            XCTAssertEqual(site.deltaBytes, site.bytes - site.oldBytes)
            XCTAssertEqual(site.deltaCount, site.count - site.oldCount)
        }
        // The leak that grows with the requests comes first: 10 KiB every 10th request.
        XCTAssertEqual(diff.callSites.first?.function, "CFoo_crtheap")
        XCTAssertEqual(diff.callSites.first?.deltaBytes, 20 * 10240)
        XCTAssertEqual(diff.callSites.first?.deltaCount, 20)
        XCTAssertEqual(diff.callSites.map(\.deltaBytes), diff.callSites.map(\.deltaBytes).sorted(by: >))

        // The other way round, everything shrank: the same sites, negative, the largest loss last.
        let reversed = try DiffJSON.decode(
            try harness.run([
                harness.leaktrack, "diff", "--format", "json", harness.path("d300.trace"), harness.path("d100.trace"),
            ]).stdout)
        XCTAssertEqual(reversed.callSites.last?.function, "CFoo_crtheap")
        XCTAssertEqual(reversed.callSites.last?.deltaBytes, -20 * 10240)

        let text = try harness.run([harness.leaktrack, "diff", harness.path("d100.trace"), harness.path("d300.trace")])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.contains("+200.0 KiB  +20"), text.stdout)
        XCTAssertTrue(text.stdout.contains("CFoo_crtheap [libleakcom.so] leakcom.c:11"), text.stdout)
    }

    func testDiffNeedsTwoReadableTraces() throws {
        let missing = try harness.run([harness.leaktrack, "diff", harness.path("a.trace"), harness.path("b.trace")])
        XCTAssertEqual(missing.status, 2)
        XCTAssertEqual(missing.stderr.split(separator: "\n").count, 1, missing.stderr)
        XCTAssertTrue(missing.stderr.contains("a.trace"), missing.stderr)
        let one = try harness.run([harness.leaktrack, "diff", harness.path("a.trace")])
        XCTAssertEqual(one.status, 2)
        let junit = try harness.run([harness.leaktrack, "diff", "--format", "junit", "a", "b"])
        XCTAssertEqual(junit.status, 2)
        XCTAssertTrue(junit.stderr.contains("diff writes --format text, json"), junit.stderr)
    }
}
