import Foundation
import XCTest

/// How a traced process lives and dies must not change what its trace says: fork children get traces of
/// their own, threads come and go by the thousand, libraries are loaded and unloaded in a loop, and a process
/// that aborts, crashes or is killed keeps every leak it published before the end.
final class LifecycleTests: EndToEndTestCase {
    override func setUpWithError() throws {
        try super.setUpWithError()
        try harness.compile(["lifecycle.c"], output: "lifecycle", flags: ["-ldl", "-lpthread"])
    }

    /// `leaktrack record -o out.trace -- lifecycle MODE...`: its exit status and the report of out.trace.
    private func record(_ arguments: [String]) throws -> (status: Int32, report: ReportJSON, stderr: String) {
        let recorded = try harness.record([harness.path("lifecycle")] + arguments)
        return (recorded.status, try harness.report(of: recorded), recorded.stderr)
    }

    /// The traces in the test directory other than out.trace (fork children's, named by their pid).
    private func otherTraces() throws -> [String] { try harness.traces(of: "lifecycle") }

    func testForkChildHasItsOwnTraceAndTheParentsIsUntouched() throws {
        let (status, report, stderr) = try record(["fork"])
        XCTAssertEqual(status, 0, stderr)
        XCTAssertEqual(
            Leak.callSites(report), [Leak(function: "parent_leak", module: "lifecycle", bytes: 100, count: 1)])
        let children = try otherTraces()
        XCTAssertEqual(children.count, 1, "\(children)")
        let child = try harness.reportJSON(harness.path(try XCTUnwrap(children.first)))
        XCTAssertEqual(Leak.callSites(child), [Leak(function: "child_leak", module: "lifecycle", bytes: 200, count: 1)])
        XCTAssertEqual(child.process.ppid, report.process.pid)
        XCTAssertEqual(child.process.complete, true)
    }

    func testForkUnderBarePreload() throws {
        let result = try harness.run([harness.path("lifecycle"), "fork"], environment: ["LD_PRELOAD": harness.shim])
        XCTAssertEqual(result.status, 0, result.stderr)
        let traces = try otherTraces()
        XCTAssertEqual(traces.count, 2, "the parent's and the child's: \(traces)")
        XCTAssertEqual(
            try harness.leaks(inTraces: traces),
            [
                Leak(function: "parent_leak", module: "lifecycle", bytes: 100, count: 1),
                Leak(function: "child_leak", module: "lifecycle", bytes: 200, count: 1),
            ])
    }

    func testPosixSpawnAndVforkExecLeaveTheParentsStreamAlone() throws {
        let (status, report, stderr) = try record(["spawn"])
        XCTAssertEqual(status, 0, stderr)
        XCTAssertEqual(
            Leak.callSites(report), [Leak(function: "spawning_parent", module: "lifecycle", bytes: 600, count: 1)])
        XCTAssertEqual(report.process.complete, true)
    }

    func testAFailedExecLeavesTheStreamRunning() throws {
        let (status, report, stderr) = try record(["failed-exec"])
        XCTAssertEqual(status, 0, stderr)
        XCTAssertFalse(stderr.contains("exec failed"), stderr)
        XCTAssertEqual(
            Leak.callSites(report),
            [
                Leak(function: "before_failed_exec", module: "lifecycle", bytes: 700, count: 1),
                Leak(function: "after_failed_exec", module: "lifecycle", bytes: 710, count: 1),
            ])
        XCTAssertEqual(report.process.complete, true)
    }

    func testAbortCrashAndKillKeepWhatWasPublished() throws {
        // abort ends the stream from the shim's signal handler (status 128 + 6). SIGSEGV is left to the program
        // (Rust, for one, installs its stack-overflow handler only over the default) and SIGKILL cannot be
        // caught, so those traces are incomplete, but every record published before the end is in them.
        let cases: [(mode: String, status: Int32, leak: Leak, complete: Bool)] = [
            ("abort", 128 + 6, Leak(function: "before_abort", module: "lifecycle", bytes: 300, count: 1), true),
            ("crash", 128 + 11, Leak(function: "before_crash", module: "lifecycle", bytes: 400, count: 1), false),
            ("kill", 128 + 9, Leak(function: "before_kill", module: "lifecycle", bytes: 900, count: 1), false),
        ]
        for (mode, expectedStatus, leak, complete) in cases {
            let (status, report, stderr) = try record([mode])
            XCTAssertEqual(status, expectedStatus, "\(mode): \(stderr)")
            XCTAssertEqual(Leak.callSites(report), [leak], mode)
            XCTAssertEqual(report.process.complete, complete, mode)
            if complete { XCTAssertEqual(report.process.exitStatus, Int(expectedStatus), mode) }
        }
    }

    func testUnderscoreExitGivesACompleteTraceWithItsStatus() throws {
        let (status, report, stderr) = try record(["exit-now"])
        XCTAssertEqual(status, 5, stderr)
        XCTAssertEqual(
            Leak.callSites(report), [Leak(function: "before_exit_now", module: "lifecycle", bytes: 500, count: 1)])
        XCTAssertEqual(report.process.complete, true)
        XCTAssertEqual(report.process.exitStatus, 5)
    }

    func testDaemonChildIsTracedAfterItsParentHasGone() throws {
        let (status, report, stderr) = try record(["daemon"])
        XCTAssertEqual(status, 0, stderr)
        // glibc's daemon() leaves the parent through its internal _exit, which no hook sees; the shim's own
        // daemon() leaves through ours, so the parent's trace is complete too.
        XCTAssertEqual(Leak.callSites(report), [], "daemon()'s parent leaks nothing of the program's")
        XCTAssertEqual(report.process.complete, true)
        XCTAssertEqual(report.process.exitStatus, 0)
        let children = try otherTraces()
        XCTAssertEqual(children.count, 1, "\(children)")
        let child = try harness.reportJSON(harness.path(try XCTUnwrap(children.first)))
        XCTAssertEqual(
            Leak.callSites(child), [Leak(function: "daemon_leak", module: "lifecycle", bytes: 800, count: 1)])
        XCTAssertEqual(child.process.complete, true)
    }

    func testThousandsOfThreadsComeAndGo() throws {
        let (status, report, stderr) = try record(["threads"])
        XCTAssertEqual(status, 0, stderr)
        XCTAssertEqual(
            Leak.callSites(report), [Leak(function: "thread_leak", module: "lifecycle", bytes: 16000, count: 2000)])
    }

    func testLibraryLoadedAndUnloadedInALoop() throws {
        let build = try harness.run(
            ["cc", "-g", "-O0", "-fPIC", "-shared", "-o", harness.path("plugin.so"), Harness.fixtures + "/plugin.c"])
        XCTAssertEqual(build.status, 0, build.stderr)
        let (status, report, stderr) = try record(["dlopen", harness.path("plugin.so")])
        XCTAssertEqual(status, 0, stderr)
        XCTAssertEqual(
            Leak.callSites(report), [Leak(function: "plugin_leak", module: "plugin.so", bytes: 4321 * 200, count: 200)])
    }

    func testLongjmpAndSignalHandlers() throws {
        let (jumpStatus, jumped, jumpErr) = try record(["longjmp"])
        XCTAssertEqual(jumpStatus, 0, jumpErr)
        XCTAssertEqual(
            Leak.callSites(jumped), [Leak(function: "leak_then_jump", module: "lifecycle", bytes: 600, count: 10)])
        let (signalStatus, signalled, signalErr) = try record(["signal"])
        XCTAssertEqual(signalStatus, 0, signalErr)
        XCTAssertEqual(
            Leak.callSites(signalled), [Leak(function: "on_signal", module: "lifecycle", bytes: 350, count: 5)])
    }
}
