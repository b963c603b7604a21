import Foundation
import XCTest

/// C fixtures with known leaks, run under `leaktrack record`; the report must give exact bytes, counts,
/// functions and modules.
final class RecordEndToEndTests: EndToEndTestCase {
    func record(_ command: [String], trace: String = "out.trace", environment: [String: String] = [:]) throws -> (
        Harness.Result, ReportJSON
    ) {
        let recorded = try harness.record(command, trace: trace, environment: environment)
        return (recorded.result, try harness.report(of: recorded))
    }

    func testEveryAllocationFunctionLeaksExactlyWhatItAllocated() throws {
        try harness.compile(["all_kinds.c"], output: "all_kinds")
        let (result, report) = try record([harness.path("all_kinds")])
        XCTAssertEqual(result.status, 0, result.stderr)
        let expected: Set<Leak> = [
            Leak(function: "leak_malloc", module: "all_kinds", bytes: 300, count: 3),
            Leak(function: "leak_calloc", module: "all_kinds", bytes: 200, count: 1),
            Leak(function: "leak_realloc", module: "all_kinds", bytes: 300, count: 1),
            Leak(function: "leak_realloc_null", module: "all_kinds", bytes: 400, count: 1),
            Leak(function: "leak_reallocarray", module: "all_kinds", bytes: 500, count: 1),
            Leak(function: "leak_posix_memalign", module: "all_kinds", bytes: 600, count: 1),
            Leak(function: "leak_aligned_alloc", module: "all_kinds", bytes: 768, count: 1),
            Leak(function: "leak_memalign", module: "all_kinds", bytes: 800, count: 1),
            Leak(function: "leak_valloc", module: "all_kinds", bytes: 900, count: 1),
            Leak(function: "leak_pvalloc", module: "all_kinds", bytes: 1000, count: 1),
            // strdup is folded into its caller.
            Leak(function: "leak_strdup", module: "all_kinds", bytes: 11, count: 1),
        ]
        XCTAssertEqual(Leak.callSites(report), expected)
        XCTAssertEqual(Leak.total(report).bytes, 5779)
        XCTAssertEqual(Leak.total(report).count, 13)
        // The failing calls in no_leaks(): calloc and reallocarray overflow, huge malloc and realloc,
        // posix_memalign with a bad alignment.
        let lost = report.lost
        XCTAssertEqual(lost.failedAllocations, 5)
        XCTAssertEqual(report.shimOwn.count, 0)

        // The call site's file and line point at the allocating statement.
        let sites = report.callSites
        let calloc = sites.first { $0.function == "leak_calloc" }
        XCTAssertEqual(calloc?.line, 19)
        XCTAssertEqual((calloc?.file).map { ($0 as NSString).lastPathComponent }, "all_kinds.c")
        let stack = calloc?.stack ?? []
        XCTAssertEqual(stack.first?.function, "leak_calloc")
        XCTAssertTrue(stack.contains { $0.function == "main" }, "stack: \(stack)")
    }

    func testLeaksAreAttributedToMainExecutableLinkedLibraryAndUnloadedPlugin() throws {
        try harness.run([
            "cc", "-g", "-O0", "-fPIC", "-shared", "-o", harness.path("liblinked.so"), Harness.fixtures + "/linked.c",
        ])
        try harness.run([
            "cc", "-g", "-O0", "-fPIC", "-shared", "-o", harness.path("libplugin.so"), Harness.fixtures + "/plugin.c",
        ])
        try harness.compile(
            ["modules_main.c"], output: "modules_main",
            flags: ["-L" + harness.directory, "-llinked", "-Wl,-rpath," + harness.directory, "-ldl"])
        let (result, report) = try record([harness.path("modules_main"), harness.path("libplugin.so")])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(
            Leak.callSites(report),
            [
                Leak(function: "main_leak", module: "modules_main", bytes: 555, count: 1),
                Leak(function: "linked_leak", module: "liblinked.so", bytes: 2468, count: 2),
                // dlclose'd before exit, still named.
                Leak(function: "plugin_leak", module: "libplugin.so", bytes: 4321, count: 1),
            ])
        let modules = report.modules.map(\.module)
        XCTAssertEqual(modules, ["libplugin.so", "liblinked.so", "modules_main"], "sorted by bytes, descending")
        let plugin = report.modules.first
        XCTAssertEqual(plugin?.path, harness.path("libplugin.so"))
    }

    func testCrossThreadFreesLeaveNoPhantomAndNoLostLeaks() throws {
        try harness.compile(["threads.c"], output: "threads", flags: ["-lpthread"])
        // Several runs: the interleaving differs each time, the answer must not. The second run uses the
        // smallest ring, so producers wait on the collector all the time and the ring wraps constantly.
        for run in 0..<3 {
            let environment = run == 1 ? ["LEAKTRACK_BUFFER_SIZE": "64K"] : [:]
            let (result, report) = try record(
                [harness.path("threads")], trace: "threads\(run).trace", environment: environment)
            XCTAssertEqual(result.status, 0, result.stderr)
            XCTAssertEqual(
                Leak.callSites(report), [Leak(function: "worker_alloc", module: "threads", bytes: 800, count: 20)],
                "run \(run)")
            let totals = report.totals
            XCTAssertEqual(totals.unknownFrees, 0, "run \(run)")
        }
    }

    func testProgramWithoutLeaksReportsZero() throws {
        try harness.compile(["no_leaks.c"], output: "no_leaks")
        let (result, report) = try record([harness.path("no_leaks")])
        XCTAssertEqual(result.status, 0)
        XCTAssertEqual(result.stdout, "690\n", "the program's own output is untouched")
        XCTAssertEqual(Leak.total(report).bytes, 0)
        XCTAssertEqual(Leak.total(report).count, 0)
        XCTAssertEqual(Leak.callSites(report), [])
        let text = try harness.run([harness.leaktrack, "report", harness.path("out.trace")])
        XCTAssertTrue(text.stdout.contains("No leaks"), text.stdout)
        // The stdio buffer is the C runtime's, suppressed by default and visible without the defaults.
        let raw = try harness.reportJSON(harness.path("out.trace"), extra: ["--no-default-suppressions"])
        let sites = raw.callSites
        XCTAssertEqual(sites.count, 1, "\(sites)")
        XCTAssertEqual(sites.first?.function, "main", "printf's buffer, on the line that printed")
        let stack = (sites.first?.stack ?? []).map(\.function)
        XCTAssertEqual(stack.first, "_IO_file_doallocate")
    }

    func testCommandExitStatusBecomesRecordExitStatus() throws {
        try harness.compile(["exit_status.c"], output: "exit_status")
        let (result, report) = try record([harness.path("exit_status")])
        XCTAssertEqual(result.status, 3)
        XCTAssertEqual(report.process.exitStatus, 3)
        XCTAssertEqual(Leak.total(report).bytes, 77)
    }

    func testDemoServerReportNamesCrtheapInLibleakcom() throws {
        let build = try harness.run([Harness.packageRoot + "/examples/demo-server/build.sh", harness.directory])
        XCTAssertEqual(build.status, 0, build.stderr)
        let (result, report) = try record([harness.path("demo-server"), "200"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "served 200 requests (checksum 24392)\n")
        let top = report.callSites.first
        XCTAssertEqual(top?.function, "CFoo_crtheap")
        XCTAssertEqual(top?.module, "libleakcom.so")
        XCTAssertEqual(top?.bytes, 20 * 10240)
        XCTAssertEqual(top?.count, 20)
        XCTAssertEqual(Leak.total(report).count, 20 + 2 * 8)
    }
}
