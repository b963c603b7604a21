import Foundation
import XCTest

/// `leaktrack check`, the CI leak gate, on real recorded fixtures: every exit status, budgets, suppressions,
/// the baseline ratchet and the machine-readable formats.
final class CheckTests: EndToEndTestCase {
    private func check(_ arguments: [String], environment: [String: String] = [:]) throws -> Harness.Result {
        try harness.run([harness.leaktrack, "check"] + arguments, environment: environment)
    }

    private func demo() throws -> String {
        let build = try harness.run([Harness.packageRoot + "/examples/demo-server/build.sh", harness.directory])
        XCTAssertEqual(build.status, 0, build.stderr)
        return harness.path("demo-server")
    }

    func testExitStatusZeroWithoutLeaksOneOverBudgetThreeWhenTheCommandFails() throws {
        try harness.compile(["no_leaks.c"], output: "no_leaks")
        let clean = try check(["--", harness.path("no_leaks")])
        XCTAssertEqual(clean.status, 0, clean.stdout + clean.stderr)
        XCTAssertTrue(clean.stdout.contains("leaktrack check: PASSED"), clean.stdout)

        try harness.compile(["all_kinds.c"], output: "all_kinds")
        let leaky = try check(["--", harness.path("all_kinds")])
        XCTAssertEqual(leaky.status, 1, leaky.stderr)
        XCTAssertTrue(leaky.stdout.contains("leaktrack check: FAILED: 11 call sites over budget"), leaky.stdout)
        // Each offender is named with its place and stack.
        XCTAssertTrue(leaky.stdout.contains("at leak_calloc [all_kinds]  Fixtures/all_kinds.c:19"), leaky.stdout)
        XCTAssertTrue(leaky.stdout.contains("#0 leak_calloc"), leaky.stdout)

        // Within budget, but the command itself failed: 3, distinct from both.
        try harness.compile(["exit_status.c"], output: "exit_status")
        let failing = try check(["--max-leaked-bytes", "100", "--max-leaks", "1", "--", harness.path("exit_status")])
        XCTAssertEqual(failing.status, 3, failing.stdout + failing.stderr)
        XCTAssertTrue(failing.stdout.contains("the checked command itself failed with exit status 3"), failing.stdout)
        // Over budget wins over the command's failure.
        XCTAssertEqual(
            try check(["--max-leaked-bytes", "76", "--max-leaks", "1", "--", harness.path("exit_status")]).status, 1)
    }

    func testAShimThatNeverConnectedIsAToolErrorNotAPass() throws {
        try harness.compile(["no_leaks.c"], output: "no_leaks")
        // A library that loads fine but is not the shim: nothing connects, and that must not pass.
        let result = try check(["--preload", "/lib/x86_64-linux-gnu/libm.so.6", "--", harness.path("no_leaks")])
        XCTAssertEqual(result.status, 2, result.stdout)
        XCTAssertTrue(result.stderr.contains("no process connected"), result.stderr)
        let missing = try check(["--preload", harness.path("nope.so"), "--", harness.path("no_leaks")])
        XCTAssertEqual(missing.status, 2)
        XCTAssertEqual(try check([]).status, 2)
        XCTAssertEqual(try check([harness.path("missing.trace")]).status, 2)
    }

    func testTotalAndPerRuleBudgets() throws {
        let server = try demo()
        // 50 requests: CFoo_crtheap leaks 5 x 10240 bytes; open_session 2 x 16 and strdup 2 x 6 bytes.
        XCTAssertEqual(try check(["--", server, "50"]).status, 1)
        let recorded = try harness.record([server, "50"], trace: "demo.trace")
        XCTAssertEqual(recorded.status, 0, recorded.stderr)
        let trace = harness.path("demo.trace")
        XCTAssertEqual(try check(["--max-leaked-bytes", "1000000", "--max-leaks", "1000", trace]).status, 0)
        XCTAssertEqual(try check(["--max-leaked-bytes", "20000", "--max-leaks", "1000", trace]).status, 1)
        try """
        # the crtheap leak is known and capped; the rest must stay small
        function CFoo_crtheap max-bytes 51200 max-count 5
        module demo-server max-count 100
        max-leaked-bytes 0
        """.write(toFile: harness.path("budgets"), atomically: true, encoding: .utf8)
        let within = try check(["--budgets", harness.path("budgets"), trace])
        XCTAssertEqual(within.status, 0, within.stdout)
        XCTAssertTrue(
            within.stdout.contains(
                "ok  50.0 KiB  5            function CFoo_crtheap: at most 51200 bytes and 5 allocations"),
            within.stdout)
        try "function CFoo_crtheap max-count 1\nmodule demo-server max-count 100\n".write(
            toFile: harness.path("tight"), atomically: true, encoding: .utf8)
        let over = try check(["--budgets", harness.path("tight"), trace])
        XCTAssertEqual(over.status, 1, over.stdout)
        XCTAssertTrue(over.stdout.contains("FAILED: 1 call site over budget"), over.stdout)
        XCTAssertTrue(over.stdout.contains("budget: function CFoo_crtheap: at most 1 allocations"), over.stdout)
        try "function CFoo_crtheap max-bites 1\n".write(toFile: harness.path("typo"), atomically: true, encoding: .utf8)
        let typo = try check(["--budgets", harness.path("typo"), trace])
        XCTAssertEqual(typo.status, 2)
        XCTAssertTrue(typo.stderr.contains("typo:1: unknown limit \"max-bites\""), typo.stderr)
    }

    func testSuppressionsCountTheirMatchesAndWarnWhenUnused() throws {
        let server = try demo()
        _ = try harness.record([server, "50"], trace: "demo.trace")
        try "# known\nleak:CFoo_crtheap\nleak:open_session\nleak:no_such_function\n".write(
            toFile: harness.path("supp"), atomically: true, encoding: .utf8)
        let result = try check(["--suppressions", harness.path("supp"), harness.path("demo.trace")])
        XCTAssertEqual(result.status, 0, result.stdout)
        let supp = harness.path("supp")
        XCTAssertTrue(result.stdout.contains("50.0 KiB  5            leak:CFoo_crtheap (\(supp):2)"), result.stdout)
        XCTAssertTrue(
            result.stdout.contains("warning: suppression leak:no_such_function (\(supp):4) matched nothing"),
            result.stdout)
        XCTAssertFalse(result.stdout.contains("leak:open_session (\(supp):3) matched nothing"), result.stdout)
    }

    func testBaselineFailsOnlyOnNewOrGrownCallSitesAndReportsShrinking() throws {
        let server = try demo()
        let baseline = harness.path("demo.baseline")
        let written = try check(["--write-baseline", baseline, "--", server, "50"])
        XCTAssertEqual(written.status, 1, "writing a baseline still checks")
        let text = try String(contentsOfFile: baseline, encoding: .utf8)
        XCTAssertTrue(text.hasPrefix("# leaktrack baseline 1\n"), text)
        XCTAssertTrue(text.contains("51200\t5\tlibleakcom.so\tCFoo_crtheap\tleakcom.c\n"), text)

        XCTAssertEqual(try check(["--baseline", baseline, "--", server, "50"]).status, 0)
        let grown = try check(["--baseline", baseline, "--", server, "100"])
        XCTAssertEqual(grown.status, 1, grown.stdout)
        XCTAssertTrue(
            grown.stdout.contains("grown   CFoo_crtheap [libleakcom.so] leakcom.c: 50.0 KiB in 5 -> 100.0 KiB in 10"),
            grown.stdout)
        // 100% tolerance: twice the baseline is still accepted.
        XCTAssertEqual(try check(["--baseline", baseline, "--tolerance", "100", "--", server, "100"]).status, 0)
        let shrunk = try check(["--baseline", baseline, "--", server, "25"])
        XCTAssertEqual(shrunk.status, 0, shrunk.stdout)
        XCTAssertTrue(
            shrunk.stdout.contains("shrunk  CFoo_crtheap [libleakcom.so] leakcom.c: 50.0 KiB in 5 -> 20.0 KiB in 2"),
            shrunk.stdout)
        // A call site the baseline does not know is new: it fails even if it is small.
        try harness.run(["sh", "-c", "grep -v open_session '\(baseline)' > '\(baseline).less'"])
        let new = try check(["--baseline", baseline + ".less", "--", server, "50"])
        XCTAssertEqual(new.status, 1)
        XCTAssertTrue(new.stdout.contains("new     open_session [demo-server] server.c"), new.stdout)
        try "not a baseline\n".write(toFile: harness.path("bad.baseline"), atomically: true, encoding: .utf8)
        XCTAssertEqual(try check(["--baseline", harness.path("bad.baseline"), "--", server, "50"]).status, 2)
    }

    func testSarifValidatesAgainstTheSchemaAndJUnitIsWellFormed() throws {
        let server = try demo()
        let sarif = try check(["--format", "sarif", "--", server, "50"])
        XCTAssertEqual(sarif.status, 1)
        try sarif.stdout.write(toFile: harness.path("out.sarif"), atomically: true, encoding: .utf8)
        let validate = try harness.run([
            "python3", "-c",
            "import json, sys, jsonschema; jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))); print('valid')",
            harness.path("out.sarif"), Harness.fixtures + "/sarif-2.1.0-subset.schema.json",
        ])
        XCTAssertEqual(validate.stdout, "valid\n", validate.stderr)
        let results = try SARIFLog.decode(sarif.stdout).runs.first?.results ?? []
        XCTAssertEqual(results.count, 3)
        let top = results.first?.locations.first?.physicalLocation
        XCTAssertEqual(top?.region?.startLine, 11)
        XCTAssertTrue(
            top?.artifactLocation.uri.hasSuffix("demo-server/leakcom.c") ?? false, "\(String(describing: top))")

        let junit = try check(["--format", "junit", "-o", harness.path("out.xml"), "--", server, "50"])
        XCTAssertEqual(junit.status, 1)
        let parse = try harness.run([
            "python3", "-c",
            "import sys, xml.etree.ElementTree as ET; r = ET.parse(sys.argv[1]).getroot(); s = r.find('testsuite'); print(s.get('tests'), s.get('failures'), len(s.findall('testcase/failure')))",
            harness.path("out.xml"),
        ])
        XCTAssertEqual(parse.stdout, "4 4 4\n", parse.stderr)

        let json = try check(["--format", "json", "--", server, "50"])
        let verdict = try GateJSON.decode(json.stdout)
        XCTAssertEqual(verdict.passed, false)
        XCTAssertEqual(verdict.exitStatus, 1)
        XCTAssertEqual(verdict.offenders.first?.function, "CFoo_crtheap")
        // Offenders are spelled as report JSON's call sites: frames with addresses, the stack count.
        XCTAssertEqual(verdict.offenders.first?.stack.first?.function, "CFoo_crtheap")
        XCTAssertTrue(verdict.offenders.first?.stack.first?.address.hasPrefix("0x") ?? false)
        XCTAssertEqual(verdict.offenders.first?.stacks, 1)
    }

    func testGitHubActionsAnnotationsNameTheLeakingLine() throws {
        let server = try demo()
        let result = try check(
            ["--", server, "50"], environment: ["GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": Harness.packageRoot])
        XCTAssertEqual(result.status, 1)
        let annotations = result.stdout.split(separator: "\n").filter { $0.hasPrefix("::error ") }
        XCTAssertEqual(annotations.count, 3, result.stdout)
        XCTAssertTrue(
            annotations.first?.hasPrefix(
                "::error file=examples/demo-server/leakcom.c,line=11,title=leak in CFoo_crtheap::") ?? false,
            "\(annotations)")
        // With JSON on standard output the annotations go to standard error, and the JSON stays parseable.
        let json = try check(["--format", "json", "--", server, "50"], environment: ["GITHUB_ACTIONS": "true"])
        XCTAssertEqual(try GateJSON.decode(json.stdout).offenders.count, 3)
        XCTAssertEqual(json.stderr.split(separator: "\n").filter { $0.hasPrefix("::error ") }.count, 3, json.stderr)
    }
}
