import Foundation
import XCTest

/// Programs that do what real programs sometimes do to the descriptors, signals and processes around them:
/// the shim must never touch what is theirs, never hang them, and still give the exact trace.
final class HostileProgramTests: EndToEndTestCase {
    override func setUpWithError() throws {
        try super.setUpWithError()
        try harness.compile(["hostile.c"], output: "hostile", flags: ["-lpthread"])
    }

    private var hostile: String { harness.path("hostile") }

    /// Runs `body`, and fails if it took `limit` seconds or more.
    private func within<T>(_ limit: TimeInterval, _ what: String, _ body: () throws -> T) rethrows -> T {
        let started = Date()
        let result = try body()
        let took = Date().timeIntervalSince(started)
        XCTAssertLessThan(took, limit, "\(what) took \(took) s")
        return result
    }

    /// `leaktrack record -o out.trace -- hostile ARGUMENTS`.
    private func record(_ arguments: [String], environment: [String: String] = [:], timeout: TimeInterval = 120) throws
        -> Harness.Result
    {
        try harness.record([hostile] + arguments, environment: environment, timeout: timeout).result
    }

    /// The report of out.trace, asserted to hold exactly `leaks` and to be complete.
    @discardableResult
    private func assertOutTrace(_ leaks: Set<Leak>, file: StaticString = #filePath, line: UInt = #line) throws
        -> ReportJSON
    {
        let report = try harness.reportJSON(harness.path("out.trace"))
        XCTAssertEqual(Leak.callSites(report), leaks, file: file, line: line)
        XCTAssertEqual(report.process.complete, true, file: file, line: line)
        return report
    }

    /// The parent's and the child's traces of `hostile steal-fds`, which must be exact and complete.
    private func checkStealFdsTraces(parent: ReportJSON, child: ReportJSON) {
        XCTAssertEqual(
            Leak.callSites(parent), [Leak(function: "leak_after_close", module: "hostile", bytes: 700, count: 7)])
        XCTAssertEqual(parent.process.complete, true)
        XCTAssertEqual(parent.process.exitStatus, 3)
        XCTAssertEqual(
            Leak.callSites(child), [Leak(function: "child_after_close", module: "hostile", bytes: 300, count: 3)])
        XCTAssertEqual(child.process.complete, true)
    }

    func testAProgramThatClosesAndReusesTheShimsDescriptorsKeepsItsFilesAndItsTrace() throws {
        let file = harness.path("own.txt")
        let result = try within(15, "record") {
            try record(["steal-fds", file], environment: ["LEAKTRACK_EXIT_TIMEOUT": "60"])
        }
        XCTAssertEqual(result.status, 3, result.stderr)
        XCTAssertFalse(result.stderr.contains("did not confirm"), result.stderr)
        // Nothing of the shim's went into the program's file, and every write of the program's arrived.
        XCTAssertEqual(try String(contentsOfFile: file), "child 4\nchild 900\nparent 4\n")
        let children = try harness.traces(of: "hostile")
        XCTAssertEqual(children.count, 1, "\(children)")
        checkStealFdsTraces(
            parent: try harness.reportJSON(harness.path("out.trace")),
            child: try harness.reportJSON(harness.path(try XCTUnwrap(children.first))))
    }

    func testTheSameUnderBarePreload() throws {
        let file = harness.path("own.txt")
        let result = try within(15, "the bare run") {
            try harness.run(
                [hostile, "steal-fds", file],
                environment: ["LD_PRELOAD": harness.shim, "LEAKTRACK_QUIET": "1", "LEAKTRACK_EXIT_TIMEOUT": "60"])
        }
        XCTAssertEqual(result.status, 3, result.stderr)
        XCTAssertEqual(result.stderr, "")
        XCTAssertEqual(try String(contentsOfFile: file), "child 4\nchild 900\nparent 4\n")
        var reports: [ReportJSON] = []
        for name in try harness.traces(of: "hostile") { reports.append(try harness.reportJSON(harness.path(name))) }
        XCTAssertEqual(reports.count, 2)
        let parent = try XCTUnwrap(reports.first { $0.process.exitStatus == 3 })
        let child = try XCTUnwrap(reports.first { $0.process.exitStatus == 0 })
        checkStealFdsTraces(parent: parent, child: child)
    }

    func testAShellThatRedirectsOntoLowDescriptorsIsNotSlowedDown() throws {
        // bash's `exec 4>&2` used to land on the shim's socket: the program then waited the whole exit timeout.
        let script = "exec 4>&2; exec 5>&2; exec 6>/dev/null; echo hi"
        let recorded = try within(15, "record") {
            try harness.record(
                ["bash", "-c", script], trace: "out.trace",
                environment: ["LEAKTRACK_EXIT_TIMEOUT": "60"])
        }
        XCTAssertEqual(recorded.status, 0, recorded.stderr)
        XCTAssertEqual(recorded.stdout, "hi\n")
        XCTAssertEqual(try harness.reportJSON(harness.path("out.trace")).process.complete, true)
        let bare = try within(15, "the bare run") {
            try harness.run(
                ["bash", "-c", script],
                environment: ["LD_PRELOAD": harness.shim, "LEAKTRACK_QUIET": "1", "LEAKTRACK_EXIT_TIMEOUT": "60"])
        }
        XCTAssertEqual(bare.status, 0, bare.stderr)
        XCTAssertEqual(bare.stdout, "hi\n")
        XCTAssertEqual(bare.stderr, "")
    }

    func testTheGateFindsLeaksMadeAfterCloseRange() throws {
        let result = try harness.run([harness.leaktrack, "check", "--", hostile, "steal-fds", harness.path("own.txt")])
        XCTAssertEqual(result.status, 1, result.stdout + result.stderr)
        XCTAssertTrue(result.stdout.contains("700 B in 7 allocations at leak_after_close [hostile]"), result.stdout)
        XCTAssertTrue(result.stdout.contains("300 B in 3 allocations at child_after_close [hostile]"), result.stdout)
    }

    func testTheGateNeverPassesAnIncompleteTrace() throws {
        try harness.compile(["lifecycle.c"], output: "lifecycle", flags: ["-ldl", "-lpthread"])
        // Within budget, but killed: its silence proves nothing.
        let passing = try harness.run([
            harness.leaktrack, "check", "--max-leaked-bytes", "100000", "--max-leaks", "100", "--",
            harness.path("lifecycle"), "kill",
        ])
        XCTAssertEqual(passing.status, 2, passing.stdout + passing.stderr)
        XCTAssertTrue(passing.stderr.contains("is incomplete"), passing.stderr)
        XCTAssertFalse(passing.stdout.contains("PASSED"), passing.stdout)
        // Its leaks still fail the gate.
        let failing = try harness.run([harness.leaktrack, "check", "--", harness.path("lifecycle"), "kill"])
        XCTAssertEqual(failing.status, 1, failing.stdout + failing.stderr)
    }

    func testTruncatingTheRingIsRefusedAndTheTraceIsExact() throws {
        let result = try record(["truncate-ring"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "refused\n")
        try assertOutTrace([Leak(function: "leak_after_truncate", module: "hostile", bytes: 250, count: 5)])
    }

    func testLeaksMadeInASignalHandlerGetTheirStacks() throws {
        // The handler interrupts malloc and free in the main loop, often inside the shim's own hooks.
        let result = try record(["signal-leaks", "472"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "472\n")
        let report = try harness.reportJSON(harness.path("out.trace"))
        XCTAssertEqual(
            Leak.callSites(report), [Leak(function: "leak_in_handler", module: "hostile", bytes: 472 * 24, count: 472)])
        XCTAssertEqual(report.shimOwn.count, 0, "\(report.shimOwn)")
    }

    func testForkChildrenThatNeverAllocateCostLittleAndSayNothing() throws {
        let bare = try within(8, "200 forks under the bare preload") {
            try harness.run(
                [hostile, "forks", "200"], environment: ["LD_PRELOAD": harness.shim, "LEAKTRACK_QUIET": "1"])
        }
        XCTAssertEqual(bare.status, 0, bare.stderr)
        XCTAssertEqual(bare.stderr, "")
        let recorded = try within(8, "200 forks under record") {
            try record(["forks", "200"])
        }
        XCTAssertEqual(recorded.status, 0, recorded.stderr)
        XCTAssertEqual(
            recorded.stderr.split(separator: "\n").filter { $0.contains("did not") || $0.contains("untracked") }, [])
        // Only the parent's trace: children that allocated nothing leave none.
        XCTAssertEqual(try harness.traces(of: "hostile").count, 1)
    }

    func testReturningFromMainRecordsTheExitStatus() throws {
        // Both leave through glibc's internal exit paths, which the exported exit and _exit never see.
        for (mode, status) in [("return", 4), ("quick-exit", 6)] {
            let recorded = try record([mode, String(status)])
            XCTAssertEqual(recorded.status, Int32(status), recorded.stderr)
            let report = try harness.reportJSON(harness.path("out.trace"))
            XCTAssertEqual(report.process.exitStatus, status, mode)
            XCTAssertEqual(report.process.complete, true, mode)
            XCTAssertEqual(
                Leak.callSites(report), [Leak(function: "leak_before_return", module: "hostile", bytes: 8, count: 1)],
                mode)
        }
    }

    func testRecordWritesBesideItsOutputOnAnotherFileSystemAndFromAnUnwritableDirectory() throws {
        // -o on another file system (/dev/shm is tmpfs), and a current directory nobody can write (/proc).
        let target = "/dev/shm/leaktrack-test-\(getpid())-\(UUID().uuidString).trace"
        defer { unlink(target) }
        let result = try harness.run([
            "sh", "-c", "cd /proc && exec \"$0\" record -o \"$1\" -- \"$2\" steal-fds \"$3\"",
            harness.leaktrack, target, hostile, harness.path("own.txt"),
        ])
        XCTAssertEqual(result.status, 3, result.stderr)
        XCTAssertFalse(result.stderr.contains("cannot"), result.stderr)
        let parent = try harness.reportJSON(target)
        // The child's trace went beside the command's.
        let shm = try FileManager.default.contentsOfDirectory(atPath: "/dev/shm")
        let children = shm.filter { $0.hasPrefix("leaktrack.hostile.") && $0.hasSuffix(".trace") }
        defer { children.forEach { unlink("/dev/shm/" + $0) } }
        XCTAssertEqual(children.count, 1, "\(shm)")
        checkStealFdsTraces(parent: parent, child: try harness.reportJSON("/dev/shm/" + (children.first ?? "")))
    }

    func testACurrentDirectoryLongerThanPathMaxIsRefusedWithOneLine() throws {
        // 25 levels of 200-character names: over 5,000 bytes, more than PATH_MAX. Shells refuse to cd that
        // deep, so python3 descends one relative step at a time and then execs the command.
        let descend =
            "import os, sys\nfor _ in range(25):\n    os.makedirs('d' * 200, exist_ok=True)\n    os.chdir('d' * 200)\n"
            + "os.execvp(sys.argv[1], sys.argv[1:])"
        let bare = try harness.run([
            "python3", "-c", descend, "env", "LD_PRELOAD=" + harness.shim, hostile, "return", "4",
        ])
        XCTAssertEqual(bare.status, 4, bare.stderr)
        // One line from each traced program (env, then hostile), the same.
        XCTAssertEqual(
            Set(bare.stderr.split(separator: "\n")),
            [
                "leaktrack: cannot resolve the current directory (its path is too long or it was removed); set "
                    + "LEAKTRACK_OUTPUT_DIR to an absolute directory; the program runs untracked"
            ])
        let recorded = try harness.run([
            "python3", "-c", descend, harness.leaktrack, "record", "--", hostile, "return", "4",
        ])
        XCTAssertEqual(recorded.status, 2)
        XCTAssertEqual(
            recorded.stderr,
            "leaktrack: cannot resolve the current directory (its path is too long, or it was removed); "
                + "run from a shorter directory, or give -o an absolute path\n")
        let named = try harness.run([
            "python3", "-c", descend, harness.leaktrack, "record", "-o", harness.path("out.trace"), "--",
            hostile, "return", "4",
        ])
        XCTAssertEqual(named.status, 4, named.stderr)
        XCTAssertEqual(try harness.reportJSON(harness.path("out.trace")).process.exitStatus, 4)
    }

    func testAnOutputDirectoryThatLooksLikeAFlag() throws {
        try FileManager.default.createDirectory(atPath: harness.path("-h"), withIntermediateDirectories: false)
        let result = try harness.run(
            [hostile, "return", "0"],
            environment: ["LD_PRELOAD": harness.shim, "LEAKTRACK_OUTPUT_DIR": "-h"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(
            result.stderr.contains("leaktrack: writing trace to \(harness.directory)/-h/leaktrack.hostile."),
            result.stderr)
        let traces = try FileManager.default.contentsOfDirectory(atPath: harness.path("-h")).filter {
            $0.hasPrefix("leaktrack.hostile.")
        }
        XCTAssertEqual(traces.count, 1, "\(traces); \(result.stderr)")
    }

    func testAProgramStartedWithItsStandardStreamsClosed() throws {
        // The shim's descriptors (and the bare-mode collector's files) must not land on 0, 1 or 2, where
        // every message would be written into them.
        let closed = "exec 0<&- 1>&- 2>&- \"$0\" return 5"
        let recorded = try harness.record(["sh", "-c", closed, hostile], trace: "out.trace")
        XCTAssertEqual(recorded.status, 5, recorded.stderr)
        let report = try harness.reportJSON(harness.path("out.trace"))
        XCTAssertEqual(
            Leak.callSites(report), [Leak(function: "leak_before_return", module: "hostile", bytes: 8, count: 1)])
        XCTAssertEqual(report.process.complete, true)
        let bare = try harness.run(["sh", "-c", "LD_PRELOAD=\"$1\" " + closed, hostile, harness.shim])
        XCTAssertEqual(bare.status, 5, bare.stderr)
        let traces = try harness.traces(of: "hostile")
        XCTAssertEqual(traces.count, 1, "\(traces)")
        let bareReport = try harness.reportJSON(harness.path(try XCTUnwrap(traces.first)))
        XCTAssertEqual(
            Leak.callSites(bareReport), [Leak(function: "leak_before_return", module: "hostile", bytes: 8, count: 1)])
        XCTAssertEqual(bareReport.process.complete, true)
    }

    func testEndingMainWithPthreadExitEndsTheProcess() throws {
        // glibc ends the process when its last thread exits: the shim has no thread that could keep it alive.
        let bare = try within(10, "the bare run") {
            try harness.run(
                [hostile, "pthread-exit"], environment: ["LD_PRELOAD": harness.shim, "LEAKTRACK_QUIET": "1"],
                timeout: 30)
        }
        XCTAssertEqual(bare.status, 0, bare.stderr)
        let recorded = try within(10, "record") {
            try record(["pthread-exit"], timeout: 30)
        }
        XCTAssertEqual(recorded.status, 0, recorded.stderr)
        let report = try assertOutTrace([Leak(function: "leak_before_return", module: "hostile", bytes: 8, count: 1)])
        XCTAssertEqual(report.process.exitStatus, 0)
    }

    func testAChildMadeWithoutForkHandlersNeverWritesIntoItsParentsTrace() throws {
        // _Fork runs no atfork handlers; the child must not apply its frees to the parent's stream.
        let result = try record(["underscore-fork"])
        XCTAssertEqual(result.status, 0, result.stderr)
        try assertOutTrace([Leak(function: "parent_leaks", module: "hostile", bytes: 5000, count: 5)])
    }

    func testARecordLongerThanTheRingIsOneConnectionsErrorNotTheCollectorsCrash() throws {
        let result = try record(["forge-record"], environment: ["LEAKTRACK_BUFFER_SIZE": "64K"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stderr.contains("claims to be longer than the ring"), result.stderr)
        // The sibling's trace is whole.
        let siblings = try harness.traces(of: "hostile")
        XCTAssertEqual(siblings.count, 1, "\(siblings); \(result.stderr)")
        let sibling = try harness.reportJSON(harness.path(try XCTUnwrap(siblings.first)))
        XCTAssertEqual(
            Leak.callSites(sibling), [Leak(function: "sibling_leaks", module: "hostile", bytes: 369, count: 3)])
        XCTAssertEqual(sibling.process.complete, true)
    }

    func testTheShimTakesNoDescriptorFromTheProgram() throws {
        // All descriptors but one in use: every open must get that one, for a whole second (the shim used to
        // open /proc files every 100 ms).
        for environment in [["LD_PRELOAD": harness.shim, "LEAKTRACK_QUIET": "1"], [:]] {
            let command =
                environment.isEmpty
                ? [harness.leaktrack, "record", "-o", harness.path("out.trace"), "--", hostile, "fd-churn"]
                : [hostile, "fd-churn"]
            let result = try harness.run(command, environment: environment)
            XCTAssertEqual(result.status, 0, result.stderr)
            XCTAssertEqual(result.stdout, "0\n", "opens that failed or got another number; \(result.stderr)")
        }
    }

    func testManyProcessesAtOnceUnderALowDescriptorLimit() throws {
        // 150 processes alive at once, with a soft limit of 256 descriptors: the collector raises its own limit
        // and serves them all, exactly.
        let result = try harness.run(
            [
                "sh", "-c", "ulimit -Sn 256 && exec \"$0\" record -o \"$1\" -- \"$2\" concurrent 150",
                harness.leaktrack, harness.path("out.trace"), hostile,
            ], timeout: 180)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertFalse(result.stderr.contains("dropped") || result.stderr.contains("cannot"), result.stderr)
        let children = try harness.traces(of: "hostile")
        XCTAssertEqual(children.count, 150)
        XCTAssertEqual(
            try harness.leaks(inTraces: children),
            [Leak(function: "concurrent_leak", module: "hostile", bytes: 16, count: 1)])
        var complete = 0
        for name in children where try harness.reportJSON(harness.path(name)).process.complete == true { complete += 1 }
        XCTAssertEqual(complete, 150)
    }

    func testAStackCutAtTheDepthLimitSaysSo() throws {
        // 500 frames deep: cut at the default 128, whole at 512.
        let cut = try harness.record([hostile, "deep", "500"], trace: "cut.trace")
        XCTAssertEqual(cut.status, 0, cut.stderr)
        let site = try XCTUnwrap(try harness.reportJSON(harness.path("cut.trace")).callSites.first)
        XCTAssertEqual(site.function, "deep_leak")
        XCTAssertEqual(site.stackTruncated, true)
        XCTAssertEqual(site.stack.count, 128)
        let text = try harness.run([harness.leaktrack, "report", harness.path("cut.trace")])
        XCTAssertTrue(text.stdout.contains("the stack went deeper: the shim keeps LEAKTRACK_DEPTH frames"), text.stdout)
        let whole = try harness.record([hostile, "deep", "500"], trace: "whole.trace", options: ["--depth", "512"])
        XCTAssertEqual(whole.status, 0, whole.stderr)
        let wholeSite = try XCTUnwrap(try harness.reportJSON(harness.path("whole.trace")).callSites.first)
        XCTAssertEqual(wholeSite.stackTruncated, false)
        XCTAssertGreaterThan(wholeSite.stack.count, 500)
        XCTAssertFalse(
            try harness.run([harness.leaktrack, "report", harness.path("whole.trace")]).stdout.contains("went deeper"))
    }

    func testRecordRefusesAnOutputDirectoryItCannotWriteBeforeRunningTheCommand() throws {
        let marker = harness.path("ran")
        let result = try harness.run([
            harness.leaktrack, "record", "-o", "/proc/no-such-directory/x.trace", "--", "touch", marker,
        ])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(
            result.stderr.hasPrefix("leaktrack: cannot write traces into /proc/no-such-directory"), result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "the command ran")
    }

    func testArgumentsThatAreNotUTF8MakeATraceTheReportReads() throws {
        // 16,000 bytes of 0xFF: each is three bytes once decoded; the collector keeps what the reader accepts.
        let result = try harness.run([
            "sh", "-c",
            "exec \"$0\" record -o \"$1\" -- \"$2\" return 0 \"$(head -c 16000 /dev/zero | tr '\\0' '\\377')\" x",
            harness.leaktrack, harness.path("out.trace"), hostile,
        ])
        XCTAssertEqual(result.status, 0, result.stderr)
        let report = try harness.run([harness.leaktrack, "report", harness.path("out.trace")])
        XCTAssertEqual(report.status, 0, report.stderr)
        XCTAssertTrue(report.stdout.contains("leak_before_return"), report.stdout)
    }
}
