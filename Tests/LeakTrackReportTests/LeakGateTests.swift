import XCTest
@testable import LeakTrackCore
@testable import LeakTrackReport

/// The gate's rules on synthetic traces: totals, per-rule budgets, the baseline ratchet, suppression counts.
final class LeakGateTests: XCTestCase {
    /// Two call sites in `handle` (lines 10 and 12 of server.c), one in `parse`, one in libfoo.so.
    private func report() -> LeakReport {
        var b = TraceBuilder()
        b.leak(
            [b.frame("handle", "app", file: "/src/server.c", line: 10), b.frame("main", "app")], count: 2, size: 100)
        b.leak([b.frame("handle", "app", file: "/src/server.c", line: 12), b.frame("main", "app")], count: 1, size: 50)
        b.leak([b.frame("parse", "app", file: "/src/parse.c", line: 7), b.frame("main", "app")], count: 3, size: 10)
        b.leak([b.frame("foo_alloc", "libfoo.so"), b.frame("main", "app")], count: 1, size: 1000)
        return LeakReport(trace: b.trace)
    }

    func testTotalBudgetCountsEverySiteAndNamesEachOffender() {
        let strict = LeakGate().evaluate([report()])
        XCTAssertFalse(strict.passed)
        XCTAssertEqual(strict.offenders.map(\.site.function), ["foo_alloc", "handle", "handle", "parse"])
        XCTAssertEqual(strict.leakedBytes, 1000 + 200 + 50 + 30)
        XCTAssertTrue(LeakGate(maxLeakedBytes: 1280, maxLeaks: 7).evaluate([report()]).passed)
        XCTAssertFalse(LeakGate(maxLeakedBytes: 1279, maxLeaks: 7).evaluate([report()]).passed)
        XCTAssertFalse(LeakGate(maxLeakedBytes: 1280, maxLeaks: 6).evaluate([report()]).passed)
    }

    func testRulesTakeTheirSitesOutOfTheTotalAndTheFirstMatchWins() {
        let rules = [
            BudgetRule(subject: .module, pattern: Pattern("libfoo*"), maxBytes: 1000, maxCount: nil),
            BudgetRule(subject: .callsite, pattern: Pattern("server.c:1*"), maxBytes: nil, maxCount: 3),
            BudgetRule(subject: .function, pattern: Pattern("*"), maxBytes: 0, maxCount: 0),
        ]
        let result = LeakGate(rules: rules).evaluate([report()])
        XCTAssertEqual(result.ruleUsage.map(\.count), [1, 3, 3])
        XCTAssertEqual(result.ruleUsage.map(\.over), [false, false, true])
        XCTAssertEqual(result.offenders.map(\.site.function), ["parse"])
        XCTAssertEqual(result.judgedCount, 0, "every site was taken by a rule")
    }

    func testBaselineFailsOnlyOnNewOrGrownAndMergesTheLinesOfAFunction() throws {
        let today = LeakGate().evaluate([report()])
        let baseline = try Baseline.parse(Baseline(callSites: today.callSites).encoded(), name: "b")
        XCTAssertEqual(baseline.entries[Baseline.Key(module: "app", function: "handle", file: "server.c")]?.bytes, 250)
        XCTAssertTrue(LeakGate(baseline: baseline).evaluate([report()]).passed)

        var grown = TraceBuilder()
        grown.leak(
            [grown.frame("handle", "app", file: "/src/server.c", line: 11), grown.frame("main", "app")], count: 4,
            size: 100)
        grown.leak(
            [grown.frame("fresh", "app", file: "/src/new.c", line: 1), grown.frame("main", "app")], count: 1, size: 8)
        let result = LeakGate(baseline: baseline).evaluate([LeakReport(trace: grown.trace)])
        XCTAssertEqual(Set(result.offenders.map(\.site.function)), ["handle", "fresh"])
        XCTAssertEqual(result.newSites.map(\.function), ["fresh"])
        XCTAssertEqual(result.grownSites.map(\.now.bytes), [400])
        XCTAssertEqual(Set(result.fixedSites.map(\.function)), ["parse", "foo_alloc"])
        // handle: 400 bytes in 4 against 250 in 3. 50% allows 375 bytes in 4: grown; 100% allows 500 in 6.
        XCTAssertFalse(
            LeakGate(baseline: baseline, tolerancePercent: 50).evaluate([LeakReport(trace: grown.trace)]).grownSites
                .isEmpty)
        XCTAssertTrue(
            LeakGate(baseline: baseline, tolerancePercent: 100).evaluate([LeakReport(trace: grown.trace)]).grownSites
                .isEmpty)
        // Absurd tolerances and hand-edited amounts saturate instead of trapping.
        XCTAssertTrue(
            LeakGate(baseline: baseline, tolerancePercent: .max).evaluate([LeakReport(trace: grown.trace)]).grownSites
                .isEmpty)
        let huge = try Baseline.parse(
            Baseline.header + "\n18446744073709551615\t1\tapp\thandle\tserver.c\n1\t1\tapp\thandle\tserver.c\n",
            name: "h")
        XCTAssertEqual(huge.entries[Baseline.Key(module: "app", function: "handle", file: "server.c")]?.bytes, .max)
    }

    func testBaselineAndBudgetFileParsingErrorsSayWhere() {
        XCTAssertThrowsError(try Baseline.parse("hello\n", name: "b")) {
            XCTAssertEqual(($0 as? Baseline.ParseError), .notABaseline(name: "b"))
        }
        XCTAssertThrowsError(try Baseline.parse(Baseline.header + "\n12\tx\tapp\tf\tf.c\n", name: "b")) {
            XCTAssertEqual(($0 as? Baseline.ParseError), .badLine(name: "b", line: 2, text: "12\tx\tapp\tf\tf.c"))
        }
        XCTAssertThrowsError(try BudgetFile.parse("max-leaks ten\n", name: "f")) {
            XCTAssertEqual("\($0)", "f:1: \"ten\" is not a number")
        }
        let file = try? BudgetFile.parse("# c\nmax-leaks 3 # three\nfunction f* max-count 2 max-bytes 9\n", name: "f")
        XCTAssertEqual(file?.maxLeaks, 3)
        XCTAssertEqual(
            file?.rules,
            [BudgetRule(subject: .function, pattern: Pattern("f*"), maxBytes: 9, maxCount: 2, origin: "f:3")])
    }

    func testSuppressionUsageCountsMatchesAndFindsUnusedOnes() {
        let used = Suppressions.Rule(pattern: Pattern("foo_*"), reason: "s:1")
        let unused = Suppressions.Rule(pattern: Pattern("nothing"), reason: "s:2")
        var options = ReportOptions()
        options.suppressions = Suppressions(rules: [used, unused])
        var b = TraceBuilder()
        b.leak([b.frame("foo_alloc", "libfoo.so"), b.frame("main", "app")], count: 2, size: 64)
        let result = LeakGate(suppressions: [used, unused]).evaluate([LeakReport(trace: b.trace, options: options)])
        XCTAssertTrue(result.passed)
        XCTAssertEqual(result.suppressionUsage.map(\.count), [2, 0])
        XCTAssertEqual(result.unusedSuppressions, [unused])
    }
}

/// Amounts no reader lets through, built in memory: the report, the gate and every renderer saturate or print
/// them, never trap (they trapped with "arithmetic overflow", exit status 132).
final class OverflowTests: XCTestCase {
    func testSumsSaturateAndEveryRendererCopes() {
        var b = TraceBuilder()
        b.leak([b.frame("big", "app", file: "/src/big.c", line: -5)], count: 2, size: .max)
        b.leak([b.frame("other", "app")], count: 1, size: .max)
        b.leak([b.frame("quiet", "app")], count: 2, size: .max)
        b.liveWithoutStack(SpecialStack.none, size: .max)
        b.liveWithoutStack(SpecialStack.none, size: .max)
        b.liveWithoutStack(SpecialStack.dropped, size: .max)
        var options = ReportOptions()
        let rule = Suppressions.Rule(pattern: Pattern("quiet"), reason: "s:1")
        options.suppressions = Suppressions(rules: [rule])
        let report = LeakReport(trace: b.trace, options: options)
        XCTAssertEqual(report.leakedBytes, .max)
        XCTAssertEqual(report.leakedCount, 4)
        XCTAssertEqual(report.groups.first?.bytes, .max)
        XCTAssertEqual(report.modules.first?.bytes, .max)
        XCTAssertEqual(report.internalBytes, .max)
        XCTAssertEqual(report.suppressedBytes, .max)

        let rules = [BudgetRule(subject: .function, pattern: Pattern("big"), maxBytes: .max - 1, maxCount: nil)]
        let gate = LeakGate(maxLeakedBytes: .max - 1, rules: rules, suppressions: [rule]).evaluate([report, report])
        XCTAssertEqual(gate.leakedBytes, .max)
        XCTAssertEqual(gate.callSites.first { $0.function == "big" }?.bytes, .max)
        XCTAssertEqual(gate.ruleUsage.map(\.bytes), [.max])
        XCTAssertEqual(gate.judgedBytes, .max)
        XCTAssertEqual(gate.suppressionUsage.map(\.bytes), [.max])
        XCTAssertFalse(gate.passed)
        XCTAssertTrue(
            LeakGate(baseline: Baseline(callSites: gate.callSites), tolerancePercent: .max).evaluate([report, report])
                .passed)

        XCTAssertTrue(TextRenderer().render(report).contains("big.c:-5"))
        XCTAssertTrue(JSONRenderer().render(report).contains("\"line\": -5"))
        XCTAssertTrue(GateJSONRenderer().render(GateVerdict(gate)).contains("\"line\": -5"))
        XCTAssertFalse(GateTextRenderer().render(GateVerdict(gate)).isEmpty)
        XCTAssertFalse(JUnitRenderer().render(GateVerdict(gate)).isEmpty)
        XCTAssertFalse(SARIFRenderer(sourceRoot: "/src", toolVersion: "0").render(GateVerdict(gate)).isEmpty)
        XCTAssertTrue(GitHubAnnotations(sourceRoot: "/src").render(GateVerdict(gate)).contains("line=-5"))
    }
}

final class SARIFRendererTests: XCTestCase {
    func testPathsBecomeURIs() {
        XCTAssertEqual(SARIFRenderer.encoded("src/my file#1.c"), "src/my%20file%231.c")
        XCTAssertEqual(SARIFRenderer.encoded("/a/b-c_d.e~f"), "/a/b-c_d.e~f")
        XCTAssertEqual(SARIFRenderer.encoded("é"), "%C3%A9")
    }
}
