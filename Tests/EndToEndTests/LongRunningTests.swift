import Foundation
import LeakTrackCore
import LeakTrackTestSupport
import XCTest

/// The long-running workflow on fixture services: snapshots at a period, at thresholds and on request, growth
/// per call site, the memory series, `show` and `diff` of snapshots.
final class LongRunningTests: EndToEndTestCase {
    /// The control directory of these tests' collectors: under /tmp itself (not the test's private directory),
    /// so that another user's failure to reach it is the directory's doing.
    private var runtimeDirectory: String { "/tmp/leaktrack-control-test-\(getpid())" }
    private var runtime: [String: String] { ["LEAKTRACK_RUNTIME_DIR": runtimeDirectory] }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: runtimeDirectory)
        super.tearDown()
    }

    private func buildGrowthServer() throws {
        let lib = try harness.run([
            "cc", "-g", "-O0", "-fPIC", "-shared", "-o", harness.path("libgrowth.so"),
            Harness.fixtures + "/growth_lib.c",
        ])
        XCTAssertEqual(lib.status, 0, lib.stderr)
        try harness.compile(
            ["growth_server.c"], output: "growth_server",
            flags: ["-L" + harness.directory, "-lgrowth", "-Wl,-rpath," + harness.directory])
    }

    /// Runs `arguments` on a thread of its own; the returned closure waits for it and gives its result.
    private func start(_ arguments: [String], environment: [String: String] = [:]) -> () throws -> Harness.Result {
        let result = Locked<Result<Harness.Result, Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let harness = self.harness!
        Thread {
            result.value = Result { try harness.run(arguments, environment: environment) }
            done.signal()
        }.start()
        return {
            done.wait()
            done.signal()
            return try result.value!.get()
        }
    }

    private func snapshotFiles(of program: String) throws -> [String] {
        try harness.traces(of: program).filter { $0.contains(".snapshot-") }.sorted {
            snapshotIndex($0) < snapshotIndex($1)
        }
    }

    private func snapshotIndex(_ name: String) -> Int {
        Int(name.split(separator: ".").first { $0.hasPrefix("snapshot-") }?.dropFirst(9) ?? "") ?? 0
    }

    func testPeriodicSnapshotsFindTheLeakGrowingAndTheCacheBoundedWhileTheServerRuns() throws {
        try buildGrowthServer()
        let finished = start(
            [
                harness.leaktrack, "record", "--interval", "100ms", "--snapshot-every", "500ms", "-o",
                harness.path("server.trace"), "--", harness.path("growth_server"), "4", harness.path("requests"),
            ], environment: runtime)
        // The snapshots are readable while the server still runs.
        var readWhileRunning: ReportJSON?
        for _ in 0..<300 where readWhileRunning == nil {
            usleep(20_000)
            if let second = try snapshotFiles(of: "growth_server").dropFirst().first {
                readWhileRunning = try harness.reportJSON(harness.path(second))
            }
        }
        let early = try XCTUnwrap(readWhileRunning, "no second snapshot appeared while the server ran")
        XCTAssertTrue(early.isSnapshot)
        XCTAssertFalse(early.process.complete)
        XCTAssertFalse(FileManager.default.fileExists(atPath: harness.path("requests")), "the server still ran")

        let run = try finished()
        XCTAssertEqual(run.status, 0, run.stderr)
        let requests = try XCTUnwrap(
            Int(try String(contentsOfFile: harness.path("requests"), encoding: .utf8).trimmingWhitespace))
        let report = try harness.reportJSON(harness.path("server.trace"))
        XCTAssertGreaterThanOrEqual(report.snapshots.count, 6, "a snapshot every 500 ms for 4 s, and one at exit")
        XCTAssertEqual(report.snapshots.last?.trigger, "exit")
        XCTAssertTrue(report.snapshots.dropLast().allSatisfy { $0.trigger == "every" })

        let first = try XCTUnwrap(report.callSites.first)
        XCTAssertEqual(first.function, "growth_leak")
        XCTAssertEqual(first.module, "libgrowth.so")
        XCTAssertEqual(first.growth?.verdict, "growing")
        XCTAssertEqual(first.count, requests / 1000, "one block per thousand requests")
        XCTAssertEqual(first.bytes, requests / 1000 * 1000)
        XCTAssertGreaterThan(first.growth?.bytesPerHour ?? 0, 0)
        let cache = try XCTUnwrap(report.callSites.first { $0.function == "cache_fill" })
        XCTAssertEqual(cache.growth?.verdict, "bounded")
        XCTAssertEqual(cache.count, 2000)
        XCTAssertEqual(cache.snapshots?.count, report.snapshots.count)
        let growing = report.callSites.filter { $0.growth?.verdict == "growing" }.map(\.function)
        XCTAssertEqual(growing, ["growth_leak"], "nothing else grows")

        let text = try harness.run([harness.leaktrack, "report", harness.path("server.trace")])
        XCTAssertTrue(
            text.stdout.contains("LEAK SUSPECTED: growth_leak in libgrowth.so, +"), String(text.stdout.prefix(600)))
        XCTAssertTrue(text.stdout.contains("resident │"), "the memory chart")

        // A snapshot's blocks that the server freed by exit: show finds them in the snapshot, not in the trace.
        let snapshot = try TraceFile.read(
            path: harness.path(try XCTUnwrap(try snapshotFiles(of: "growth_server").last)))
        let leaked = try XCTUnwrap(
            snapshot.live.first { block in
                snapshot.stacks[Int(block.stack)].frames.contains {
                    snapshot.frames[$0].symbols.first?.function == "growth_leak"
                }
            })
        let inside = "0x" + String(leaked.address + 700, radix: 16)
        let shown = try harness.run([
            harness.leaktrack, "show", "--format", "json", harness.path("server.trace"), inside,
        ])
        XCTAssertEqual(shown.status, 0, shown.stderr)
        let block = try ShownBlock.decode(shown.stdout)
        XCTAssertEqual(block.size, 1000)
        XCTAssertEqual(block.start, "0x" + String(leaked.address, radix: 16))
        XCTAssertEqual(block.stack.first?.function, "growth_leak")
        XCTAssertGreaterThan(block.ageSeconds, 0)
        let final = try TraceFile.read(path: harness.path("server.trace"))
        let freed = try XCTUnwrap(
            snapshot.live.first { block in block.size < 100 && !final.live.contains { $0.address == block.address } })
        let freedAddress = "0x" + String(freed.address + 1, radix: 16)
        let inSnapshot = try harness.run([
            harness.leaktrack, "show", "--format", "json",
            harness.path(try XCTUnwrap(try snapshotFiles(of: "growth_server").last)), freedAddress,
        ])
        XCTAssertEqual(try ShownBlock.decode(inSnapshot.stdout).size, Int(freed.size))
        let gone = try harness.run([harness.leaktrack, "show", harness.path("server.trace"), freedAddress])
        XCTAssertEqual(gone.status, 1, "a freed block's address")
        XCTAssertTrue(gone.stderr.contains("no block live in"), gone.stderr)
    }

    func testRecordKeepsAStatusLineOnATerminalAndNoneElsewhere() throws {
        try buildGrowthServer()
        let command = [
            harness.leaktrack, "record", "--snapshot-every", "1s", "-o", harness.path("status.trace"), "--",
            harness.path("growth_server"), "3.5",
        ]
        // script(1) runs the command on a pseudo-terminal and copies what it writes.
        let quoted = command.map { "'\($0)'" }.joined(separator: " ")
        let onTerminal = try harness.run(["script", "-qec", quoted, "/dev/null"], environment: runtime)
        XCTAssertEqual(onTerminal.status, 0, onTerminal.stderr)
        let lines = onTerminal.stdout.split(whereSeparator: { $0 == "\r" || $0 == "\n" }).map(String.init)
        let status = lines.filter { $0.contains("allocs/s") }
        XCTAssertGreaterThanOrEqual(status.count, 2, "one line a second: \(onTerminal.stdout.prefix(2000))")
        let last = try XCTUnwrap(status.last)
        XCTAssertTrue(last.contains("leaktrack: pid "), last)
        XCTAssertTrue(last.contains("0:00:02") || last.contains("0:00:03"), "elapsed time: \(last)")
        XCTAssertTrue(last.contains("resident ") && last.contains("heap ") && last.contains("snapshots "), last)
        let elsewhere = try harness.run(command, environment: runtime)
        XCTAssertEqual(elsewhere.status, 0, elsewhere.stderr)
        XCTAssertFalse(elsewhere.stderr.contains("allocs/s"), "no status line into a pipe: \(elsewhere.stderr)")
    }

    func testASilentControlClientHoldsUpNeitherPsNorTheEndOfTheStream() throws {
        try buildGrowthServer()
        let started = Date()
        let finished = start(
            [harness.leaktrack, "record", "-o", harness.path("slow.trace"), "--", harness.path("growth_server"), "2"],
            environment: runtime)
        var socketPath: String?
        for _ in 0..<300 where socketPath == nil {
            usleep(20_000)
            socketPath = (try? FileManager.default.contentsOfDirectory(atPath: runtimeDirectory))?
                .first { $0.hasSuffix(".sock") }.map { runtimeDirectory + "/" + $0 }
        }
        // A client that connects and never says anything.
        let silent = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(silent) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: Array(try! XCTUnwrap(socketPath).utf8) + [0])
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(silent, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        XCTAssertEqual(connected, 0)
        let asked = Date()
        let ps = try harness.run([harness.leaktrack, "ps", "--format", "json"], environment: runtime)
        XCTAssertLessThan(Date().timeIntervalSince(asked), 1.5, "ps waited for the silent client")
        XCTAssertEqual(try [ProcessStatus].decode(ps.stdout).count, 1, ps.stdout + ps.stderr)
        XCTAssertEqual(try finished().status, 0)
        XCTAssertLessThan(Date().timeIntervalSince(started), 6, "the stream's end waited for the silent client")
    }

    func testThresholdRulesTakeExactlyTheSnapshotsTheyImplyAtTheirValues() throws {
        try harness.compile(["steps.c"], output: "steps")
        let run = try harness.record(
            [harness.path("steps"), "6", "4"], trace: "steps.trace",
            options: ["--interval", "100ms", "--snapshot-at", "heap=4M,+4M", "--snapshot-at", "resident=8M,+8M"],
            environment: runtime)
        XCTAssertEqual(run.status, 0, run.stderr)
        let report = try harness.report(of: run)
        let mib = 1 << 20
        let heapRule = report.snapshots.filter { $0.trigger.contains("heap>=") }
        XCTAssertEqual(
            heapRule.map(\.trigger).map { $0.split(separator: "+").first.map(String.init) ?? "" },
            (1...6).map { "heap>=\($0 * 4)M" })
        for (k, snapshot) in heapRule.enumerated() {
            XCTAssertEqual(snapshot.heapBytes, (k + 1) * 4 * mib, "exactly k blocks of 4 MiB at snapshot \(k + 1)")
            XCTAssertEqual(snapshot.heapCount, k + 1)
        }
        let residentRule = report.snapshots.filter { $0.trigger.contains("resident>=") }
        XCTAssertEqual(residentRule.count, 3, "8, 16 and 24 MiB: \(report.snapshots.map(\.trigger))")
        for (k, snapshot) in residentRule.enumerated() {
            XCTAssertGreaterThanOrEqual(snapshot.resident, (k + 1) * 8 * mib)
        }
        XCTAssertEqual(report.snapshots.count, 7, "six heap steps (three with a resident step), and the exit")
        XCTAssertEqual(report.snapshots.map(\.index), Array(1...7))
        XCTAssertEqual(try snapshotFiles(of: "steps").count, 6, "every snapshot but the exit one is a file")

        // The memory series: 2.4 s at 100 ms.
        XCTAssertGreaterThanOrEqual(report.memory.count, 18)
        XCTAssertLessThanOrEqual(report.memory.count, 30)
        XCTAssertEqual(report.memory.map(\.t), report.memory.map(\.t).sorted())
        let gaps = zip(report.memory.dropFirst(), report.memory).map { $0.t - $1.t }
        XCTAssertLessThan(gaps.max() ?? 1, 0.3, "samples every 100 ms: \(gaps)")
        XCTAssertEqual(report.memory.last?.heapBytes, 24 * mib)
        XCTAssertGreaterThan(report.memory.last?.resident ?? 0, 24 * mib)
        XCTAssertGreaterThan(report.memory.last?.private ?? 0, 24 * mib, "RssAnon: the touched heap")
        XCTAssertGreaterThan(report.memory.last?.available ?? 0, 0)

        // diff of two snapshots equals the fixture's own arithmetic: three more blocks of 4 MiB.
        let files = try snapshotFiles(of: "steps")
        let diff = try harness.run([
            harness.leaktrack, "diff", "--format", "json", harness.path(files[1]), harness.path(files[4]),
        ])
        XCTAssertEqual(diff.status, 0, diff.stderr)
        let site = try XCTUnwrap(try DiffSites.decode(diff.stdout).callSites.first)
        XCTAssertEqual(site.function, "main")
        XCTAssertEqual(site.deltaCount, 3)
        XCTAssertEqual(site.deltaBytes, 3 * 4 * mib)
        XCTAssertEqual(site.bytes, 5 * 4 * mib)

        // check judges a snapshot as the moment it is (not as a trace cut short): 8 MiB live at snapshot 2.
        let within = try harness.run([
            harness.leaktrack, "check", "--max-leaks", "100", "--max-leaked-bytes", String(9 * mib),
            harness.path(files[1]),
        ])
        XCTAssertEqual(within.status, 0, within.stdout + within.stderr)
        let over = try harness.run([
            harness.leaktrack, "check", "--max-leaks", "100", "--max-leaked-bytes", String(7 * mib),
            harness.path(files[1]),
        ])
        XCTAssertEqual(over.status, 1, over.stdout + over.stderr)
    }

    func testSnapshotOnRequestReachesRecordAndBareModeAndOnlyThisUser() throws {
        try buildGrowthServer()
        let server = harness.path("growth_server")
        let recorded = start(
            [harness.leaktrack, "record", "-o", harness.path("recorded.trace"), "--", server, "5"],
            environment: runtime)
        let bare = start(
            [server, "5"], environment: runtime.merging(["LD_PRELOAD": harness.shim]) { $1 })
        defer {
            _ = try? recorded()
            _ = try? bare()
        }
        var listed: [ProcessStatus] = []
        var seen: [String] = []
        for _ in 0..<400 where listed.count < 2 {
            usleep(20_000)
            let ps = try harness.run([harness.leaktrack, "ps", "--format", "json"], environment: runtime)
            // Under a bare LD_PRELOAD, /usr/bin/env is traced too until it execs the server (same pid).
            listed = ((try? [ProcessStatus].decode(ps.stdout)) ?? []).filter { $0.program.hasSuffix("/growth_server") }
            let sockets = (try? FileManager.default.contentsOfDirectory(atPath: runtimeDirectory)) ?? []
            let what = "\(sockets.sorted()) -> \(ps.stdout.prefix(300)) \(ps.stderr.prefix(200))"
            if seen.last != what { seen.append(what) }
        }
        guard listed.count == 2 else {
            let ps = try harness.run([harness.leaktrack, "ps", "--format", "json"], environment: runtime)
            let directory = (try? FileManager.default.contentsOfDirectory(atPath: runtimeDirectory)) ?? []
            XCTFail(
                "ps lists the recorded and the bare server: \(listed.map(\.pid)); seen: \(seen.prefix(12)); now: \(ps.stdout) \(ps.stderr); "
                    + "\(runtimeDirectory): \(directory); record: \((try? recorded().stderr) ?? "?"); "
                    + "bare: \((try? bare().stderr) ?? "?")")
            return
        }
        for process in listed {
            let asked = try harness.run([harness.leaktrack, "snapshot", String(process.pid)], environment: runtime)
            XCTAssertEqual(asked.status, 0, asked.stderr)
            let path = asked.stdout.trimmingWhitespace
            XCTAssertTrue(path.hasSuffix(".snapshot-1.trace"), path)
            let report = try harness.reportJSON(path)
            XCTAssertTrue(report.isSnapshot)
            XCTAssertEqual(report.snapshots.last?.trigger, "request")
            XCTAssertEqual(report.process.pid, process.pid)
        }
        let text = try harness.run([harness.leaktrack, "ps"], environment: runtime)
        XCTAssertTrue(text.stdout.contains("snapshots"), text.stdout)

        // The control directory is this user's alone, and so is every socket in it.
        var status = stat()
        XCTAssertEqual(stat(runtimeDirectory, &status), 0)
        XCTAssertEqual(status.st_mode & 0o777, 0o700)
        XCTAssertEqual(stat(runtimeDirectory + "/\(listed[0].pid).sock", &status), 0)
        XCTAssertEqual(status.st_mode & 0o777, 0o600)
        if getuid() == 0 {
            // Another user (nobody) cannot reach the socket: not through the directory, nor with the directory
            // opened to all (the socket itself is 0600). The client lives where nobody may run it.
            let client = "/tmp/leaktrack-connect-\(getpid())"
            try harness.compile(["connect_unix.c"], output: "connect_unix")
            XCTAssertEqual(try harness.run(["install", "-m", "0755", harness.path("connect_unix"), client]).status, 0)
            defer { unlink(client) }
            let socket = runtimeDirectory + "/\(listed[0].pid).sock"
            let asNobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", client, socket]
            XCTAssertEqual(try harness.run(asNobody).stdout, "EACCES\n")
            chmod(runtimeDirectory, 0o711)
            XCTAssertEqual(try harness.run(asNobody).stdout, "EACCES\n")
            chmod(runtimeDirectory, 0o700)
            XCTAssertEqual(try harness.run([client, socket]).stdout, "connected\n", "while its own user can")
        }

        XCTAssertEqual(try recorded().status, 0)
        XCTAssertEqual(try bare().status, 0)
        let missing = try harness.run([harness.leaktrack, "snapshot", String(listed[0].pid)], environment: runtime)
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.contains("is traced by leaktrack"), missing.stderr)
    }
}

private struct ShownBlock: Decodable {
    var address: String
    var start: String
    var size: Int
    var ageSeconds: Double
    var stack: [ReportJSON.Frame]
}

private struct DiffSites: Decodable {
    struct Site: Decodable {
        var function: String
        var bytes: Int
        var deltaBytes: Int
        var deltaCount: Int
    }
    var callSites: [Site]
}

private struct ProcessStatus: Decodable {
    var pid: Int
    var program: String
    var snapshots: Int
    var trace: String
}

extension String {
    fileprivate var trimmingWhitespace: String { trimmingCharacters(in: .whitespacesAndNewlines) }
}
