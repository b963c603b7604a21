import Foundation
import XCTest

/// `LD_PRELOAD=libleaktrack.so PROGRAM` with nothing else set up: the shim starts its own collector and the
/// trace lands in the current directory under a name it prints once.
final class BarePreloadTests: EndToEndTestCase {
    func testBarePreloadWritesTraceNamedAfterProgramAndPid() throws {
        try harness.compile(["all_kinds.c"], output: "all_kinds")
        let result = try harness.run([harness.path("all_kinds")], environment: ["LD_PRELOAD": harness.shim])
        XCTAssertEqual(result.status, 0, result.stderr)
        // The harness starts programs through env, which execs them: env's own image has a trace of its own.
        let lines = result.stderr.split(separator: "\n").filter {
            $0.contains("leaktrack:") && $0.contains(".all_kinds.")
        }
        XCTAssertEqual(lines.count, 1, "one message: \(result.stderr)")
        let traces = try harness.traces(of: "all_kinds")
        XCTAssertEqual(traces.count, 1, "\(traces)")
        let name = try XCTUnwrap(traces.first)
        XCTAssertTrue(name.hasPrefix("leaktrack.all_kinds.") && name.hasSuffix(".trace"), name)
        XCTAssertTrue(lines[0].hasSuffix(harness.directory + "/" + name), String(lines[0]))
        // The trace is complete when the program has exited: report on it at once, by default the newest.
        let report = try harness.reportJSON(harness.path(name))
        XCTAssertEqual(Leak.total(report).bytes, 5779)
        XCTAssertEqual(report.process.complete, true)
        let defaultReport = try harness.run([harness.leaktrack, "report"])
        XCTAssertTrue(defaultReport.stdout.contains("LEAK DETECTED"), defaultReport.stdout)
    }

    func testAnExecdImageGetsItsOwnTraceAndReplacesNone() throws {
        try harness.compile(["exec_self.c"], output: "exec_self")
        let result = try harness.run([harness.path("exec_self")], environment: ["LD_PRELOAD": harness.shim])
        XCTAssertEqual(result.status, 0, result.stderr)
        let traces = try harness.traces(of: "exec_self")
        XCTAssertEqual(traces.count, 2, "one trace per image: \(traces)")
        XCTAssertEqual(
            try harness.leaks(inTraces: traces),
            [
                Leak(function: "first_image", module: "exec_self", bytes: 111, count: 1),
                Leak(function: "second_image", module: "exec_self", bytes: 222, count: 1),
            ])
        // Under record, -o names the last image the command's pid ran, whichever stream ended first.
        let recorded = try harness.record([harness.path("exec_self")], trace: "out.trace")
        XCTAssertEqual(recorded.status, 0, recorded.stderr)
        XCTAssertEqual(
            Leak.callSites(try harness.reportJSON(harness.path("out.trace"))),
            [Leak(function: "second_image", module: "exec_self", bytes: 222, count: 1)])
    }

    func testGitOnARealRepositoryKeepsItsOutput() throws {
        let script = """
            set -e
            rm -rf repo && git init -q repo && cd repo
            for i in 1 2 3 4 5; do
                echo "line $i" >> file.txt && git add file.txt
                git -c user.name=Test -c user.email=test@example.com commit -q -m "commit $i"
            done
            git log --format=%s && git rev-parse HEAD && git log --oneline | wc -l
            """
        try script.write(toFile: harness.path("git.sh"), atomically: true, encoding: .utf8)
        let dates = ["GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z"]
        let bare = try harness.run(["sh", harness.path("git.sh")], environment: dates)
        XCTAssertEqual(bare.status, 0, bare.stderr)
        XCTAssertTrue(bare.stdout.hasPrefix("commit 5\ncommit 4\n"), bare.stdout)
        let preloaded = try harness.run(
            ["sh", harness.path("git.sh")],
            environment: dates.merging(["LD_PRELOAD": harness.shim, "LEAKTRACK_QUIET": "1"]) { $1 })
        XCTAssertEqual(preloaded.status, 0, preloaded.stderr)
        XCTAssertEqual(preloaded.stdout, bare.stdout)
        let recorded = try harness.record(["sh", harness.path("git.sh")], trace: "git.trace", environment: dates)
        XCTAssertEqual(recorded.status, 0, recorded.stderr)
        XCTAssertEqual(recorded.stdout, bare.stdout)
        // Every git process got a trace of its own (at least one per commit).
        let traces = try harness.traces(of: "git")
        XCTAssertGreaterThanOrEqual(traces.count, 10, "\(traces)")
    }

    func testAnUnwritableOutputDirectoryLeavesTheProgramUnharmed() throws {
        try harness.compile(["all_kinds.c"], output: "all_kinds")
        let bare = try harness.run([harness.path("all_kinds")])
        // A directory that is not there is refused at start, with one line; one that exists but cannot be
        // written (even by root) fails when the trace is stored. Either way the program is unharmed.
        for (directory, message) in [
            (
                "/proc/no-such-directory",
                "leaktrack: the trace directory /proc/no-such-directory does not exist; the program runs untracked\n"
            ),
            ("/proc", nil),
        ] {
            let result = try harness.run(
                [harness.path("all_kinds")],
                environment: ["LD_PRELOAD": harness.shim, "LEAKTRACK_OUTPUT_DIR": directory])
            XCTAssertEqual(result.status, bare.status, result.stderr)
            XCTAssertEqual(result.stdout, bare.stdout)
            if let message {
                // Said once by each traced program (the harness's env, then all_kinds).
                XCTAssertEqual(Set(result.stderr.split(separator: "\n").map { $0 + "\n" }), [message])
            } else {
                XCTAssertTrue(result.stderr.contains("cannot store the trace of pid"), result.stderr)
            }
        }
    }

    func testRealProgramsBehaveTheSameUnderTheShim() throws {
        let programs: [[String]] = [
            // Heavy allocation (200,000 dicts and strings) in four threads.
            [
                "python3", "-c",
                "import threading, json\nout = []\ndef work(n):\n    d = [{'k': str(i), 'v': [i] * 8} for i in range(50000)]\n    out.append(len(json.dumps(d)) + n)\nt = [threading.Thread(target=work, args=(n,)) for n in range(4)]\n[x.start() for x in t]\n[x.join() for x in t]\nprint(sorted(out))",
            ],
            ["git", "--version"],
        ]
        for program in programs {
            let bare = try harness.run(program)
            let preloaded = try harness.run(program, environment: ["LD_PRELOAD": harness.shim, "LEAKTRACK_QUIET": "1"])
            XCTAssertEqual(preloaded.status, bare.status, "\(program[0]): \(preloaded.stderr)")
            XCTAssertEqual(preloaded.stdout, bare.stdout, program[0])
            let recorded = try harness.run(
                [harness.leaktrack, "record", "-o", harness.path("real.trace"), "--"] + program)
            XCTAssertEqual(recorded.status, bare.status, "\(program[0]): \(recorded.stderr)")
            XCTAssertEqual(recorded.stdout, bare.stdout, program[0])
            let report = try harness.reportJSON(harness.path("real.trace"))
            XCTAssertGreaterThan(report.totals.allocations, 10, program[0])
        }
    }
}
