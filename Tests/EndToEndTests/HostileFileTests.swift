import Foundation
import LeakTrackCore
import LeakTrackTestSupport
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
            process: ProcessSummary(
                pid: 7, ppid: 1, executable: "/bin/app", arguments: ["app"], forked: false, startTime: 0,
                durationNanoseconds: 1_000_000, complete: true, exitStatus: 0),
            modules: [Module(path: "/bin/app", buildID: [1], bias: 0)],
            frames: [
                Frame(
                    address: 0x1010, module: 0, offset: 0x1010,
                    symbols: [Symbol(function: "main", file: "/src/main.c", line: 3)])
            ],
            stacks: [
                Stack(frames: []), Stack(frames: [0], allocations: 1, allocatedBytes: 16, liveCount: 1, liveBytes: 16),
            ],
            live: [LiveAllocation(address: 0x5000, size: 16, stack: 1)], totals: Totals(), lost: ShimCounters(),
            samples: [])
    }

    func write(_ bytes: [UInt8], _ name: String) throws -> String {
        let path = harness.path(name)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    func assertToolError(_ arguments: [String], mentions: String, file: StaticString = #filePath, line: UInt = #line)
        throws
    {
        let result = try harness.run([harness.leaktrack] + arguments, timeout: 30)
        XCTAssertEqual(result.status, 2, "\(arguments): \(result.stderr)", file: file, line: line)
        XCTAssertEqual(
            result.stderr.split(separator: "\n", omittingEmptySubsequences: false).count, 2,
            "one line: \(result.stderr)", file: file, line: line)
        XCTAssertTrue(result.stderr.hasPrefix("leaktrack: "), result.stderr, file: file, line: line)
        XCTAssertTrue(
            result.stderr.contains(mentions), "\(result.stderr) should mention \(mentions)", file: file, line: line)
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
        let specials = [
            (fifo, "a FIFO"), ("/dev/zero", "a character device"), ("/dev/urandom", "a character device"),
            (directory, "a directory"),
        ]
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
        try assertToolError(
            ["report", "--suppressions", text, trace],
            mentions: "cannot read suppression file \(text): it is larger than 64 MiB")
        try assertToolError(
            ["check", "--budgets", text, trace], mentions: "cannot read budget file \(text): it is larger than 64 MiB")
        try assertToolError(
            ["check", "--baseline", text, trace], mentions: "cannot read baseline \(text): it is larger than 64 MiB")
        try assertToolError(
            ["report", "--fold-file", text, trace], mentions: "cannot read fold file \(text): it is larger than 64 MiB")
        let huge = try sparse("huge.trace", size: InputKind.traceLimit + 1)
        try assertToolError(["report", huge], mentions: "cannot read trace \(huge): it is larger than 16384 MiB")
    }

    /// A trace written section by section, for values the encoder never writes: each closure writes one
    /// section's payload over the defaults of `smallTrace` (one module, one frame, stacks 0 and 1).
    static func crafted(
        frames: ((inout ByteWriter) -> Void)? = nil, stacks: ((inout ByteWriter) -> Void)? = nil,
        live: ((inout ByteWriter) -> Void)? = nil
    ) -> [UInt8] {
        var file = ByteWriter()
        file.append(TraceFile.magic)
        file.fixed32(1) // not sampled
        func section(_ kind: TraceFile.Section, _ build: (inout ByteWriter) -> Void) {
            TraceFile.appendSection(kind, to: &file, build)
        }
        section(.process) { w in
            w.varint(7); w.varint(1); w.string("/bin/app"); w.varint(1); w.string("app"); w.u8(0); w.varint(0);
            w.varint(0); w.u8(1); w.optionalVarint(0)
        }
        section(.modules) { w in
            w.varint(1); w.string("/bin/app"); w.blob([1]); w.varint(0)
        }
        section(
            .frames,
            frames ?? { w in
                w.varint(1); w.varint(0x1010); w.varint(1); w.varint(0x10); w.varint(1)
                w.string("main"); w.optionalString("/src/main.c"); w.optionalVarint(3); w.optionalVarint(nil); w.u8(0);
                w.optionalString(nil)
            })
        section(
            .stacks,
            stacks ?? { w in
                w.varint(2); w.varint(0); for _ in 0..<4 { w.varint(0) }
                w.varint(1); w.varint(0); for _ in 0..<4 { w.varint(1) }
            })
        section(
            .live,
            live ?? { w in
                w.varint(1); w.varint(1); w.varint(0x5000); w.varint(32)
            })
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
        let overflow = try write(
            TraceFile.encode(
                Trace(
                    process: HostileFileTests.smallTrace().process, modules: HostileFileTests.smallTrace().modules,
                    frames: HostileFileTests.smallTrace().frames,
                    stacks: HostileFileTests.smallTrace().stacks + [Stack(frames: [0])],
                    live: [
                        LiveAllocation(address: 0x1000, size: half, stack: 1),
                        LiveAllocation(address: 0x2000, size: half, stack: 1),
                        LiveAllocation(address: 0x3000, size: 2, stack: 2),
                    ],
                    totals: Totals(), lost: ShimCounters(), samples: [])), "overflow.trace")
        // A line number of 2^63 + 5.
        let line = try write(
            HostileFileTests.crafted(frames: { w in
                w.varint(1); w.varint(0x1010); w.varint(1); w.varint(0x10); w.varint(1)
                w.string("main"); w.optionalString("/src/main.c"); w.optionalVarint(1 << 63 + 5); w.optionalVarint(nil);
                w.u8(0); w.optionalString(nil)
            }), "line.trace")
        // The crafted 1 MB trace: one stack of a million frames.
        let deep = try write(
            HostileFileTests.crafted(stacks: { w in
                w.varint(2); w.varint(0); for _ in 0..<4 { w.varint(0) }
                w.varint(1_000_000); for _ in 0..<1_000_000 { w.varint(0) }; for _ in 0..<4 { w.varint(1) }
            }), "deep.trace")
        let cases = [
            (overflow, "\(overflow) is corrupted: the live allocations add up to more than 2^64 bytes"),
            (line, "\(line) is corrupted: a line number is 9223372036854775813, more than 4294967295"),
            (deep, "\(deep) is corrupted: 1000000 frames in a stack, more than the shim's deepest stack (512)"),
        ]
        for (trace, message) in cases {
            for command in [
                ["report"], ["report", "--format", "json"], ["check"], ["check", "--format", "json"], ["dump"],
            ] {
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
                    XCTAssertTrue(
                        [0, 1, 2].contains(result.status),
                        "byte \(position) = \(value), \(command): \(result.status) \(result.stderr)")
                    if result.status == 2 {
                        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
                        XCTAssertTrue(result.stderr.hasPrefix("leaktrack: \(path) is "), result.stderr)
                    }
                }
            }
        }
        XCTAssertGreaterThan(outcomes[2, default: 0], 0)
    }

    /// A raw shim stream (WireBuilder writes it through leaktrack_wire.h): HELLO of /bin/app, pid 42.
    static func rawStream() -> WireBuilder {
        var raw = WireBuilder()
        raw.hello(arguments: ["app"])
        return raw
    }

    /// collect --input refuses what the shim never writes: an allocation at address 0 crashed it (the live
    /// table's precondition), and a stack deeper than LT_MAX_DEPTH or a block of 2^63 bytes made a trace that
    /// report refuses.
    func testCollectRefusesStreamsTheShimCannotHaveWritten() throws {
        func stream(_ build: (inout WireBuilder) -> Void) throws -> String {
            var raw = HostileFileTests.rawStream()
            raw.stack(1, [0x1000])
            build(&raw)
            raw.final()
            return try write(raw.bytes, "in.raw")
        }
        let out = harness.path("out.trace")
        let good = try stream { $0.alloc(0x5000, 16, stack: 1) }
        XCTAssertEqual(try harness.run([harness.leaktrack, "collect", "--input", good, "-o", out]).status, 0)
        XCTAssertEqual(try TraceFile.read(path: out).live, [LiveAllocation(address: 0x5000, size: 16, stack: 1)])
        try assertToolError(
            ["collect", "--input", try stream { $0.alloc(0, 16, stack: 1) }, "-o", out],
            mentions: "is corrupted: an allocation at address 0")
        try assertToolError(
            ["collect", "--input", try stream { $0.alloc(0x5000, 1 << 63, stack: 1) }, "-o", out],
            mentions: "is corrupted: an allocation of 9223372036854775808 bytes, more than any allocator returns")
        try assertToolError(
            ["collect", "--input", try stream { $0.stack(2, [UInt64](repeating: 0x1000, count: 513)) }, "-o", out],
            mentions: "in.raw is corrupted: a STACK record of 513 frames, more than the shim's deepest (512)")
        // Two SKIPs of 2^63 words each (the second where the first says the stream resumes) overflowed the
        // session's count of skipped words: a trap.
        try assertToolError(
            [
                "collect", "--input",
                try stream {
                    $0.skip(1 << 63); $0.skip(1 << 63)
                }, "-o", out,
            ],
            mentions: "in.raw is corrupted: a SKIP of 9223372036854775808 words, more than the largest ring holds")
    }

    /// Runs leaktrack with stdout to a file and returns its exit status, peak resident memory and wall time.
    /// The peak comes from a small python3 parent's RUSAGE_CHILDREN: a child spawned straight from this test
    /// process would report this process's own peak (Linux carries the peak RSS across vfork and exec).
    func measure(_ arguments: [String], stdout: String) throws -> (status: Int32, maxRSSKiB: Int, seconds: Double) {
        let script = """
            import resource, subprocess, sys, time
            start = time.monotonic()
            with open(sys.argv[1], "wb") as out, open(sys.argv[1] + ".err", "wb") as err:
                status = subprocess.run(sys.argv[2:], stdout=out, stderr=err).returncode
            print(status, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.monotonic() - start)
            """
        let result = try harness.run(["python3", "-c", script, stdout, harness.leaktrack] + arguments, timeout: 300)
        let fields = result.stdout.split(separator: " ").map {
            String($0.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        guard result.status == 0, fields.count == 3, let status = Int32(fields[0]), let rss = Int(fields[1]),
            let seconds = Double(fields[2])
        else {
            throw HarnessError("measuring \(arguments) failed (python3 is needed): \(result.stdout) \(result.stderr)")
        }
        return (status, rss, seconds)
    }

    /// dump streams: each record is printed as it is decoded, so its memory is the same whatever the file's
    /// size (it held the file, the decoded trace and every line: 1.95 GB for 10 M live blocks).
    func testDumpStreamsInBoundedMemory() throws {
        let blocks = 1_000_000
        let trace = try write(
            HostileFileTests.crafted(live: { w in
                w.varint(blocks); w.varint(1); w.varint(0x10_0000); w.varint(32)
                for _ in 1..<blocks { w.u8(0); w.u8(32); w.u8(0) }
            }), "big.trace")
        let out = harness.path("dump.txt")
        let traceRun = try measure(["dump", trace], stdout: out)
        XCTAssertEqual(traceRun.status, 0, (try? String(contentsOfFile: out + ".err", encoding: .utf8)) ?? "")
        let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 1 + 1 + 1 + 1 + blocks + 2)
        XCTAssertEqual(lines[4], "LIVE 0x100000 size=16 stack=1")
        XCTAssertEqual(
            lines[4 + blocks - 1], "LIVE 0x\(String(0x10_0000 + 32 * (blocks - 1), radix: 16)) size=16 stack=1")
        XCTAssertLessThan(traceRun.maxRSSKiB, 64 << 10, "dump of \(blocks) live blocks: \(traceRun.maxRSSKiB) KiB")

        var raw = HostileFileTests.rawStream()
        raw.stack(1, [0x1000])
        for i in 0..<UInt64(blocks / 2) { raw.alloc(0x10_0000 + 32 * i, 16, stack: 1) }
        raw.final()
        let stream = try write(raw.bytes, "big.raw")
        let rawRun = try measure(["dump", stream], stdout: out)
        XCTAssertEqual(rawRun.status, 0, (try? String(contentsOfFile: out + ".err", encoding: .utf8)) ?? "")
        XCTAssertEqual(
            try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").count, 1 + 1 + blocks / 2 + 1)
        XCTAssertLessThan(
            rawRun.maxRSSKiB, 64 << 10, "dump of a raw stream of \(blocks / 2) allocations: \(rawRun.maxRSSKiB) KiB")
    }

    /// report --format json of the crafted 1 MB trace (one stack of a million frames) took 7 s and 1.1 GB; the
    /// reader refuses it at the stack's frame count, before allocating it.
    func testADeepStackIsRefusedInBoundedTimeAndMemory() throws {
        let deep = try write(
            HostileFileTests.crafted(stacks: { w in
                w.varint(2); w.varint(0); for _ in 0..<4 { w.varint(0) }
                w.varint(1_000_000); for _ in 0..<1_000_000 { w.varint(0) }; for _ in 0..<4 { w.varint(1) }
            }), "deep.trace")
        let run = try measure(["report", "--format", "json", deep], stdout: harness.path("report.json"))
        XCTAssertEqual(run.status, 2)
        XCTAssertEqual(
            (try? String(contentsOfFile: harness.path("report.json.err"), encoding: .utf8)) ?? "",
            "leaktrack: \(deep) is corrupted: 1000000 frames in a stack, more than the shim's deepest stack (512)\n")
        XCTAssertLessThan(run.maxRSSKiB, 64 << 10)
        XCTAssertLessThan(run.seconds, 5)
    }

    /// Another user who can write to the output directory (/tmp, say) planted the collector's temporary name,
    /// TRACE.tmpPID, and storage failed with "File exists". The pid is the collector's, so plant it for the
    /// next few thousand pids: storage works, and the planted files are left as they were.
    func testPlantedTemporaryNamesDoNotStopStorage() throws {
        var raw = HostileFileTests.rawStream()
        raw.stack(1, [0x1000])
        raw.alloc(0x5000, 16, stack: 1)
        raw.final()
        let input = try write(raw.bytes, "in.raw")
        let directory = harness.path("shared")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let named = directory + "/out.trace", derived = directory + "/leaktrack.app.42.trace"
        let last = Int(
            (try String(contentsOfFile: "/proc/sys/kernel/ns_last_pid", encoding: .utf8))
                .trimmingCharacters(in: .whitespacesAndNewlines))!
        for pid in last + 1...last + 3000 {
            for path in [named, derived] {
                XCTAssertTrue(
                    FileManager.default.createFile(atPath: path + ".tmp\(pid)", contents: Data("planted".utf8)))
            }
        }
        let planted = try FileManager.default.contentsOfDirectory(atPath: directory).count
        let explicit = try harness.run([harness.leaktrack, "collect", "--input", input, "-o", named])
        XCTAssertEqual(explicit.status, 0, explicit.stderr)
        XCTAssertEqual(try TraceFile.read(path: named).live, [LiveAllocation(address: 0x5000, size: 16, stack: 1)])
        let again = try harness.run([harness.leaktrack, "collect", "--input", input, "-o", named])
        XCTAssertEqual(again.status, 0, "-o replaces: \(again.stderr)")
        let automatic = try harness.run([harness.leaktrack, "collect", "--input", input, "--output-dir", directory])
        XCTAssertEqual(automatic.status, 0, automatic.stderr)
        XCTAssertEqual(try TraceFile.read(path: derived).live.count, 1)
        // A derived name never replaces a file: the second one is refused.
        let second = try harness.run([harness.leaktrack, "collect", "--input", input, "--output-dir", directory])
        XCTAssertEqual(second.status, 2)
        XCTAssertEqual(
            second.stderr,
            "leaktrack: \(derived) already exists; leaktrack does not replace files it did not just write (choose another name or remove it)\n"
        )
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: directory).count, planted + 2,
            "nothing else left behind")
        XCTAssertEqual(try String(contentsOfFile: named + ".tmp\(last + 1)", encoding: .utf8), "planted")
    }

    /// Arguments and symbol names are the traced program's choice: report, check (with GitHub annotations), dump
    /// and error messages escape their control characters, so they cannot drive the terminal or forge lines.
    func testControlCharactersFromTheProgramAreEscapedInTextOutput() throws {
        let evil = "leak\u{1b}[2J\u{1b}]0;pwned\u{07}\n    #1 forged  forged.c:1  [app]"
        var trace = HostileFileTests.smallTrace()
        trace.process.arguments = ["app", "--x=\u{1b}[31mred\nLEAK DETECTED: forged"]
        trace.process.executable = "/bin/\u{1b}app"
        trace.modules[0].path = "/bin/a\u{1b}[7mpp\n"
        trace.frames[0].symbols = [Symbol(function: evil, file: "/src/ma\tin\r.c", line: 3)]
        let path = try write(TraceFile.encode(trace), "evil.trace")
        func assertClean(_ text: String, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
            let bad = text.unicodeScalars.filter { ($0.value < 0x20 && $0 != "\n") || $0.value == 0x7f }
            XCTAssertEqual(bad.map { String($0.value, radix: 16) }, [], "\(what): \(text)", file: file, line: line)
            XCTAssertFalse(
                text.split(separator: "\n").contains {
                    $0.hasPrefix("    #1 forged") || $0.hasPrefix("LEAK DETECTED: forged")
                },
                "\(what) has a forged line", file: file, line: line)
        }
        let report = try harness.run([harness.leaktrack, "report", path])
        XCTAssertEqual(report.status, 0, report.stderr)
        assertClean(report.stdout, "report")
        XCTAssertTrue(
            report.stdout.contains(
                "at leak\\x1b[2J\\x1b]0;pwned\\x07\\n    #1 forged  forged.c:1  [app] [a\\x1b[7mpp\\n]"), report.stdout)
        let check = try harness.run(
            [harness.leaktrack, "check", path], environment: ["GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": "/src"])
        XCTAssertEqual(check.status, 1, check.stderr)
        assertClean(check.stdout, "check with annotations")
        XCTAssertTrue(
            check.stdout.contains("::error file=ma\\tin\\r.c,line=3,title=leak in leak\\x1b[2J"), check.stdout)
        let dump = try harness.run([harness.leaktrack, "dump", path])
        XCTAssertEqual(dump.status, 0, dump.stderr)
        assertClean(dump.stdout, "dump")
        XCTAssertEqual(dump.stdout.split(separator: "\n").count, 1 + 1 + 1 + 1 + 1 + 2, dump.stdout)
        XCTAssertTrue(
            dump.stdout.hasPrefix(
                "PROCESS pid=7 ppid=1 exe=/bin/\\x1bapp args=[\"app\", \"--x=\\x1b[31mred\\nLEAK DETECTED: forged\"]"),
            dump.stdout)
        // JSON keeps the exact names, escaped by the encoder.
        let json = try harness.reportJSON(path)
        XCTAssertEqual(json.process.arguments, trace.process.arguments)
        XCTAssertEqual(json.callSites.first?.function, evil)

        // A file's text quoted in an error: escaped, and short.
        let suppressions = try write(
            Array("leak:ok\nbad \u{1b}[31m\r\(String(repeating: "z", count: 5000))\n".utf8), "s.supp")
        try assertToolError(
            ["report", "--suppressions", suppressions, path],
            mentions: "s.supp:2: expected leak:PATTERN, found \"bad \\x1b[31m\\r\(String(repeating: "z", count: 70))…\""
        )
    }

    /// A trace of legitimate shape can still ask for a big report: 400 call sites, each 512 frames deep, in
    /// 220 KB, is 200,000 frames of JSON. The JSON report is written as it is rendered, frame by frame: it
    /// held a tree of every frame first (five times the size of the text; 925 MB for 1,900 such call sites).
    func testAJSONReportOfManyDeepStacksIsWrittenAsItIsRendered() throws {
        let sites = 400
        let trace = try write(
            HostileFileTests.crafted(
                frames: { w in
                    w.varint(1 + sites)
                    w.varint(0x1000); w.varint(1); w.varint(0x10); w.varint(1)
                    w.string("recurse"); w.optionalString(nil); w.optionalVarint(nil); w.optionalVarint(nil); w.u8(0);
                    w.optionalString(nil)
                    for i in 0..<sites {
                        w.varint(0x2000 + UInt64(i)); w.varint(1); w.varint(0x2000 + UInt64(i)); w.varint(1)
                        w.string("site\(i)"); w.optionalString("/src/s.c"); w.optionalVarint(UInt64(i + 1));
                        w.optionalVarint(nil); w.u8(0); w.optionalString(nil)
                    }
                },
                stacks: { w in
                    w.varint(1 + sites); w.varint(0); for _ in 0..<4 { w.varint(0) }
                    for i in 0..<sites {
                        w.varint(512); w.varint(1 + i); for _ in 1..<512 { w.varint(0) }; for _ in 0..<4 { w.varint(1) }
                    }
                },
                live: { w in
                    w.varint(sites)
                    for i in 0..<sites { w.varint(1); w.varint(0x10_0000 + 64 * UInt64(i)); w.varint(i == 0 ? 32 : 0) }
                }), "wide.trace")
        let out = harness.path("wide.json")
        let run = try measure(["report", "--format", "json", trace], stdout: out)
        XCTAssertEqual(run.status, 0)
        let callSites = try ReportJSON.decode(String(contentsOfFile: out, encoding: .utf8)).callSites
        XCTAssertEqual(callSites.count, sites)
        XCTAssertEqual(callSites.map(\.stack.count), [Int](repeating: 512, count: sites))
        XCTAssertLessThan(
            run.maxRSSKiB, 128 << 10, "report --format json of \(sites) x 512 frames: \(run.maxRSSKiB) KiB")
    }
}
