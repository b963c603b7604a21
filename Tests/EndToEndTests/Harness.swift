import Foundation
import XCTest

// ReportJSON, GateJSON and SARIFLog, for every end-to-end test.
@_exported import LeakTrackTestSupport

/// Runs the real leaktrack executable and shim on C fixtures compiled for each test.
/// The binaries come from `.build/debug` (built by scripts/test) or LEAKTRACK_BIN_DIR; a missing binary
/// fails the test loudly rather than skipping it.
struct Harness {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let fixtures = packageRoot + "/Tests/EndToEndTests/Fixtures"

    static var binDirectory: String {
        ProcessInfo.processInfo.environment["LEAKTRACK_BIN_DIR"] ?? packageRoot + "/.build/debug"
    }

    let directory: String
    let leaktrack: String
    let shim: String

    init() throws {
        leaktrack = Harness.binDirectory + "/leaktrack"
        shim = Harness.binDirectory + "/libleaktrack.so"
        for path in [leaktrack, shim] where !FileManager.default.fileExists(atPath: path) {
            throw HarnessError("\(path) is missing: run scripts/test (it builds the executable and the shim)")
        }
        directory = NSTemporaryDirectory() + "leaktrack-e2e-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func cleanUp() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs a program to completion (bounded by `timeout` seconds) in the test directory.
    @discardableResult
    func run(_ arguments: [String], environment: [String: String] = [:], timeout: TimeInterval = 120) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        var env = ProcessInfo.processInfo.environment
        env["LD_PRELOAD"] = nil
        for key in env.keys where key.hasPrefix("LEAKTRACK_") && key != "LEAKTRACK_BIN_DIR" { env[key] = nil }
        env.merge(environment) { $1 }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let outData = Atomic<Data>(Data()), errData = Atomic<Data>(Data())
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            outData.value = out.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        group.enter()
        DispatchQueue.global().async {
            errData.value = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            process.terminate()
            throw HarnessError("\(arguments.joined(separator: " ")) did not finish within \(Int(timeout)) s")
        }
        process.waitUntilExit()
        group.wait()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: outData.value, as: UTF8.self),
            stderr: String(decoding: errData.value, as: UTF8.self))
    }

    /// Compiles C sources from the fixtures folder into the test directory (with the wire header on the
    /// include path, for fixtures that speak the protocol themselves).
    func compile(_ sources: [String], output: String, flags: [String] = []) throws {
        let result = try run(
            [
                "cc", "-g", "-O0", "-Wno-alloc-size-larger-than", "-I",
                Harness.packageRoot + "/Sources/CLeakTrackWire/include",
                "-o", directory + "/" + output,
            ]
                + sources.map { Harness.fixtures + "/" + $0 } + flags)
        guard result.status == 0 else { throw HarnessError("cc failed for \(sources): \(result.stderr)") }
    }

    func path(_ name: String) -> String { directory + "/" + name }

    /// The traces a program left in the test directory (leaktrack.PROGRAM.*.trace), sorted by name.
    func traces(of program: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory)
            .filter { $0.hasPrefix("leaktrack.\(program).") && $0.hasSuffix(".trace") }.sorted()
    }

    /// The call sites of several traces (by name in the test directory), together.
    func leaks(inTraces names: [String]) throws -> Set<Leak> {
        var leaks: Set<Leak> = []
        for name in names { leaks.formUnion(Leak.callSites(try reportJSON(path(name)))) }
        return leaks
    }

    /// `leaktrack report --format json` of a trace, decoded.
    func reportJSON(_ trace: String, extra: [String] = []) throws -> ReportJSON {
        let result = try run([leaktrack, "report", "--format", "json", trace] + extra)
        guard result.status == 0 else { throw HarnessError("report failed: \(result.stderr)") }
        return try ReportJSON.decode(result.stdout)
    }

    /// What `record` did: the run, and where its trace is.
    struct Recorded {
        var result: Result
        var trace: String
        var status: Int32 { result.status }
        var stdout: String { result.stdout }
        var stderr: String { result.stderr }
    }

    /// `leaktrack record [OPTIONS] -o TRACE -- COMMAND` in the test directory (TRACE by name there), the one
    /// way the tests record. `report(of:)` reads the trace.
    @discardableResult
    func record(
        _ command: [String], trace: String = "out.trace", options: [String] = [],
        environment: [String: String] = [:], timeout: TimeInterval = 120
    ) throws -> Recorded {
        let path = path(trace)
        let result = try run(
            [leaktrack, "record"] + options + ["-o", path, "--"] + command,
            environment: environment, timeout: timeout)
        return Recorded(result: result, trace: path)
    }

    /// The report of a recording's trace, which must exist.
    func report(of recorded: Recorded, extra: [String] = [], file: StaticString = #filePath, line: UInt = #line) throws
        -> ReportJSON
    {
        XCTAssertTrue(
            FileManager.default.fileExists(atPath: recorded.trace), "no trace; stderr: \(recorded.stderr)", file: file,
            line: line)
        return try reportJSON(recorded.trace, extra: extra)
    }
}

/// Gives each end-to-end test a fresh harness (binaries located, temporary directory) and cleans up.
class EndToEndTestCase: XCTestCase {
    var harness: Harness!

    override func setUpWithError() throws {
        harness = try Harness()
    }

    override func tearDown() {
        harness?.cleanUp()
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

final class Atomic<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); stored = newValue; lock.unlock() }
    }
}

/// A leak as the report's JSON gives it, for exact comparisons.
struct Leak: Hashable, CustomStringConvertible {
    var function: String
    var module: String
    var bytes: Int
    var count: Int

    var description: String { "\(function) [\(module)] \(bytes) B x\(count)" }

    static func callSites(_ report: ReportJSON) -> Set<Leak> {
        Set(report.callSites.map { Leak(function: $0.function, module: $0.module, bytes: $0.bytes, count: $0.count) })
    }

    static func total(_ report: ReportJSON) -> (bytes: Int, count: Int) {
        (report.leaked.bytes, report.leaked.count)
    }
}
