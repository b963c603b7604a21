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

    /// A trace written section by section, for values the encoder never writes: each closure writes one
    /// section's payload over the defaults of `smallTrace` (one module, one frame, stacks 0 and 1).
    static func crafted(frames: ((inout ByteWriter) -> Void)? = nil, stacks: ((inout ByteWriter) -> Void)? = nil,
                        live: ((inout ByteWriter) -> Void)? = nil) -> [UInt8] {
        var file = ByteWriter()
        file.append(TraceFile.magic)
        file.fixed32(TraceFile.version)
        func section(_ kind: TraceFile.Section, _ build: (inout ByteWriter) -> Void) {
            var w = ByteWriter()
            build(&w)
            file.fixed32(kind.rawValue)
            file.fixed64(UInt64(w.bytes.count))
            file.append(w.bytes)
        }
        section(.process) { w in
            w.varint(7); w.varint(1); w.string("/bin/app"); w.varint(1); w.string("app"); w.u8(0); w.varint(0); w.varint(0); w.u8(1); w.optionalVarint(0)
        }
        section(.modules) { w in w.varint(1); w.string("/bin/app"); w.blob([1]); w.varint(0) }
        section(.frames, frames ?? { w in
            w.varint(1); w.varint(0x1010); w.varint(1); w.varint(0x10); w.varint(1)
            w.string("main"); w.optionalString("/src/main.c"); w.optionalVarint(3); w.optionalVarint(nil); w.u8(0); w.optionalString(nil)
        })
        section(.stacks, stacks ?? { w in
            w.varint(2); w.varint(0); for _ in 0..<4 { w.varint(0) }
            w.varint(1); w.varint(0); for _ in 0..<4 { w.varint(1) }
        })
        section(.live, live ?? { w in w.varint(1); w.varint(1); w.varint(0x5000); w.varint(32) })
        section(.summary) { w in for _ in 0..<12 { w.varint(0) } }
        section(.samples) { w in w.varint(0) }
        file.fixed32(TraceFile.Section.end.rawValue)
        file.fixed64(0)
        return file.bytes
    }

    /// Damaged traces crashed report and check ("arithmetic overflow", "Negative value is not representable",
    /// exit status 132); now each is one line naming what is wrong, and exit status 2.
    func testDamagedTracesAreOneLineErrorsNotCrashes() throws {
        XCTAssertEqual(try TraceFile.decode(HostileFileTests.crafted(), name: "crafted").live.count, 1)
        let half = UInt64(Int64.max)
        // Two live blocks whose sizes overflow when summed: 2^63 - 1, 2^63 - 1 and 2 bytes.
        let overflow = try write(TraceFile.encode(Trace(
            process: HostileFileTests.smallTrace().process, modules: HostileFileTests.smallTrace().modules,
            frames: HostileFileTests.smallTrace().frames, stacks: HostileFileTests.smallTrace().stacks + [Stack(frames: [0])],
            live: [LiveAllocation(address: 0x1000, size: half, stack: 1), LiveAllocation(address: 0x2000, size: half, stack: 1),
                   LiveAllocation(address: 0x3000, size: 2, stack: 2)],
            totals: Totals(), lost: ShimCounters(), samples: [])), "overflow.trace")
        // A line number of 2^63 + 5.
        let line = try write(HostileFileTests.crafted(frames: { w in
            w.varint(1); w.varint(0x1010); w.varint(1); w.varint(0x10); w.varint(1)
            w.string("main"); w.optionalString("/src/main.c"); w.optionalVarint(1 << 63 + 5); w.optionalVarint(nil); w.u8(0); w.optionalString(nil)
        }), "line.trace")
        // The crafted 1 MB trace: one stack of a million frames.
        let deep = try write(HostileFileTests.crafted(stacks: { w in
            w.varint(2); w.varint(0); for _ in 0..<4 { w.varint(0) }
            w.varint(1_000_000); for _ in 0..<1_000_000 { w.varint(0) }; for _ in 0..<4 { w.varint(1) }
        }), "deep.trace")
        let cases = [
            (overflow, "\(overflow) is corrupted: the live allocations add up to more than 2^64 bytes"),
            (line, "\(line) is corrupted: a line number is 9223372036854775813, more than 4294967295"),
            (deep, "\(deep) is corrupted: 1000000 frames in a stack, more than the shim's deepest stack (512)"),
        ]
        for (trace, message) in cases {
            for command in [["report"], ["report", "--format", "json"], ["check"], ["check", "--format", "json"], ["dump"]] {
                let started = Date()
                let result = try harness.run([harness.leaktrack] + command + [trace], timeout: 30)
                XCTAssertEqual(result.status, 2, "\(command) \(trace): \(result.stderr)")
                XCTAssertEqual(result.stderr, "leaktrack: \(message)\n", "\(command)")
                XCTAssertLessThan(Date().timeIntervalSince(started), 5, "\(command) \(trace)")
            }
        }
    }

    /// A recorded trace with one byte changed (it once hit the same overflow): at every sampled position, each
    /// value of a few, report, check and dump either succeed or fail with one line and status 2.
    func testARecordedTraceWithOneByteChangedNeverCrashes() throws {
        try harness.compile(["exit_status.c"], output: "exit_status")
        let good = harness.path("good.trace")
        _ = try harness.run([harness.leaktrack, "record", "-o", good, "--", harness.path("exit_status")])
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: good)))
        XCTAssertGreaterThan(bytes.count, 100)
        var outcomes: [Int32: Int] = [:]
        for position in stride(from: 12, to: bytes.count, by: max(1, bytes.count / 40)) {
            for value: UInt8 in [0x00, 0xff, bytes[position] ^ 0x80] where value != bytes[position] {
                var damaged = bytes
                damaged[position] = value
                let path = try write(damaged, "damaged.trace")
                for command in [["report", "--format", "json"], ["check"], ["dump"]] {
                    let result = try harness.run([harness.leaktrack] + command + [path], timeout: 30)
                    outcomes[result.status, default: 0] += 1
                    XCTAssertTrue([0, 1, 2].contains(result.status), "byte \(position) = \(value), \(command): \(result.status) \(result.stderr)")
                    if result.status == 2 {
                        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
                        XCTAssertTrue(result.stderr.hasPrefix("leaktrack: \(path) is "), result.stderr)
                    }
                }
            }
        }
        XCTAssertGreaterThan(outcomes[2, default: 0], 0)
    }
}
