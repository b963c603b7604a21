import Foundation
import LeakTrackCore
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 9, the reading side: files that are not what they claim to be. Every one gets exit status 2 and one
/// line on stderr, in bounded time and memory.
final class HostileFileTests: EndToEndTestCase {
    /// A small trace with one leak, written by the library's own encoder.
    static func smallTrace() -> Trace {
        Trace(
            process: ProcessSummary(pid: 7, ppid: 1, executable: "/bin/app", arguments: ["app"], forked: false, startTime: 0,
                                    durationNanoseconds: 1_000_000, complete: true, exitStatus: 0),
            modules: [Module(path: "/bin/app", buildID: [1], bias: 0)],
            frames: [Frame(address: 0x1010, module: 0, offset: 0x1010, symbols: [Symbol(function: "main", file: "/src/main.c", line: 3)])],
            stacks: [Stack(frames: []), Stack(frames: [0], allocations: 1, allocatedBytes: 16, liveCount: 1, liveBytes: 16)],
            live: [LiveAllocation(address: 0x5000, size: 16, stack: 1)], totals: Totals(), lost: ShimCounters(), samples: [])
    }

    func write(_ bytes: [UInt8], _ name: String) throws -> String {
        let path = harness.path(name)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    func assertToolError(_ arguments: [String], mentions: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try harness.run([harness.leaktrack] + arguments, timeout: 30)
        XCTAssertEqual(result.status, 2, "\(arguments): \(result.stderr)", file: file, line: line)
        XCTAssertEqual(result.stderr.split(separator: "\n", omittingEmptySubsequences: false).count, 2,
                       "one line: \(result.stderr)", file: file, line: line)
        XCTAssertTrue(result.stderr.hasPrefix("leaktrack: "), result.stderr, file: file, line: line)
        XCTAssertTrue(result.stderr.contains(mentions), "\(result.stderr) should mention \(mentions)", file: file, line: line)
    }

    /// Every file leaktrack reads, given a FIFO (which would block forever), /dev/zero and /dev/urandom (which
    /// never end) or a directory: refused at once.
    func testSpecialFilesAreRefusedWhereverAFileIsRead() throws {
        let trace = try write(TraceFile.encode(HostileFileTests.smallTrace()), "good.trace")
        let fifo = harness.path("fifo")
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let directory = harness.path("dir")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let out = harness.path("out.trace")
        let specials = [(fifo, "a FIFO"), ("/dev/zero", "a character device"), ("/dev/urandom", "a character device"),
                        (directory, "a directory")]
        for (special, type) in specials {
            let uses: [([String], String)] = [
                (["report", special], "trace"),
                (["report", "--suppressions", special, trace], "suppression file"),
                (["report", "--fold-file", special, trace], "fold file"),
                (["check", special], "trace"),
                (["check", "--budgets", special, trace], "budget file"),
                (["check", "--suppressions", special, trace], "suppression file"),
                (["check", "--baseline", special, trace], "baseline"),
                (["dump", special], special),
                (["collect", "--input", special, "-o", out], "stream file"),
            ]
            for (arguments, kind) in uses {
                try assertToolError(arguments, mentions: "cannot read \(kind == special ? "" : kind + " ")")
                try assertToolError(arguments, mentions: "\(special): it is \(type), not a regular file")
            }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    /// Regular files larger than leaktrack reads for their kind are refused before they are read.
    func testFilesBeyondTheSizeBoundAreRefused() throws {
        let trace = try write(TraceFile.encode(HostileFileTests.smallTrace()), "good.trace")
        func sparse(_ name: String, size: UInt64) throws -> String {
            let path = harness.path(name)
            XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: nil))
            XCTAssertEqual(truncate(path, off_t(size)), 0)
            return path
        }
        let text = try sparse("huge.txt", size: InputKind.textLimit + 1)
        try assertToolError(["report", "--suppressions", text, trace], mentions: "cannot read suppression file \(text): it is larger than 64 MiB")
        try assertToolError(["check", "--budgets", text, trace], mentions: "cannot read budget file \(text): it is larger than 64 MiB")
        try assertToolError(["check", "--baseline", text, trace], mentions: "cannot read baseline \(text): it is larger than 64 MiB")
        try assertToolError(["report", "--fold-file", text, trace], mentions: "cannot read fold file \(text): it is larger than 64 MiB")
        let huge = try sparse("huge.trace", size: InputKind.traceLimit + 1)
        try assertToolError(["report", huge], mentions: "cannot read trace \(huge): it is larger than 16384 MiB")
    }
}
