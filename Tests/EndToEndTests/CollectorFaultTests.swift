import Foundation
import XCTest

/// Whatever happens to the collector, the traced program runs on, with its own output and exit status, and
/// says so once.
final class CollectorFaultTests: EndToEndTestCase {
    /// Runs `steady` under the bare preload, sends `signal` to the collector it started once it is running
    /// (and, for SIGSTOP, SIGCONT a second later), and returns the program's status, stdout and stderr.
    private func runSteady(killingCollectorWith signal: Int32, environment extra: [String: String] = [:]) throws
        -> Harness.Result
    {
        try harness.compile(["steady.c"], output: "steady")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: harness.path("steady"))
        process.arguments = ["1500"]
        process.currentDirectoryURL = URL(fileURLWithPath: harness.directory)
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("LEAKTRACK_") }
        environment["LD_PRELOAD"] = harness.shim
        environment.merge(extra) { $1 }
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // The collector is the process whose command line names this test's directory as its output.
        var collector: Int32?
        for _ in 0..<100 where collector == nil {
            usleep(20_000)
            let found = try harness.run(["pgrep", "-f", "--", "collect .*--output-dir=\(harness.directory)"])
            collector = found.stdout.split(separator: "\n").first.flatMap { Int32($0) }
        }
        let pid = try XCTUnwrap(collector, "the shim never started its collector")
        usleep(300_000)
        XCTAssertEqual(kill(pid, signal), 0)
        if signal == SIGSTOP {
            sleep(1)
            XCTAssertEqual(kill(pid, SIGCONT), 0)
        }
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        XCTAssertFalse(process.isRunning, "the program hangs once its collector is gone")
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        return Harness.Result(
            status: process.terminationStatus,
            stdout: String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self),
            stderr: String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
    }

    /// The shim's messages in a program's stderr, apart from bare mode's "writing trace to".
    private func shimMessages(_ stderr: String) -> [Substring] {
        stderr.split(separator: "\n").filter { $0.hasPrefix("leaktrack:") && !$0.contains("writing trace") }
    }

    func testCollectorKilledTheProgramRunsOnUntrackedWithOneMessage() throws {
        let result = try runSteady(killingCollectorWith: SIGKILL)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "done 1500 rounds\n")
        let messages = shimMessages(result.stderr)
        // Said once, where the shim notices: a producer waiting for ring space, or the exit waiting for the trace.
        XCTAssertEqual(messages.count, 1, "\(messages)")
        XCTAssertTrue(
            [
                "leaktrack: lost the connection to the collector; the program continues untracked",
                "leaktrack: the collector went away before it stored the trace",
            ].contains(String(messages.first ?? "")),
            "\(messages)")
    }

    func testACollectorKilledWhileTheRingFillsDoesNotStallTheProgram() throws {
        // On the smallest ring the program soon waits for space: the waiting producer notices that the
        // collector's process is gone (no 30 s wait) and tracking switches off with one message.
        let started = Date()
        let result = try runSteady(killingCollectorWith: SIGKILL, environment: ["LEAKTRACK_BUFFER_SIZE": "64K"])
        XCTAssertLessThan(Date().timeIntervalSince(started), 12, "the program waited for a dead collector")
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "done 1500 rounds\n")
        let messages = shimMessages(result.stderr)
        XCTAssertEqual(messages, ["leaktrack: lost the connection to the collector; the program continues untracked"])
    }

    func testAStalledCollectorSlowsTheProgramWithoutLosingAnything() throws {
        // A collector that does not read for a second: the program waits on its full ring (64 KiB: bounded
        // memory), then both go on, and every count is exact.
        let started = Date()
        let result = try runSteady(killingCollectorWith: SIGSTOP, environment: ["LEAKTRACK_BUFFER_SIZE": "64K"])
        XCTAssertGreaterThan(Date().timeIntervalSince(started), 2.4, "the program waited for the stopped collector")
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "done 1500 rounds\n")
        XCTAssertFalse(result.stderr.contains("untracked"), result.stderr)
        let traces = try harness.traces(of: "steady")
        let report = try harness.reportJSON(harness.path(try XCTUnwrap(traces.first)))
        XCTAssertEqual(
            Leak.callSites(report), [Leak(function: "steady_leak", module: "steady", bytes: 15 * 48, count: 15)])
        XCTAssertEqual(report.process.complete, true)
    }

    func testCollectorStoppedWithSigtermStoresWhatArrived() throws {
        let result = try runSteady(killingCollectorWith: SIGTERM)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "done 1500 rounds\n")
        let traces = try harness.traces(of: "steady")
        XCTAssertEqual(traces.count, 1, "\(traces); stderr: \(result.stderr)")
        let report = try harness.reportJSON(harness.path(try XCTUnwrap(traces.first)))
        XCTAssertEqual(report.process.complete, false)
        // Some of the 15 leaks happened before the collector stopped; none of the churn shows as a leak.
        let sites = Leak.callSites(report)
        XCTAssertEqual(sites.map(\.function), ["steady_leak"], "\(sites)")
        let leaked = try XCTUnwrap(sites.first)
        XCTAssertTrue((1...15).contains(leaked.count), "\(leaked)")
        XCTAssertEqual(leaked.bytes, 48 * leaked.count)
    }
}
