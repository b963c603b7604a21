import Foundation
import LeakTrackTestSupport
import XCTest

@testable import LeakTrackCore
@testable import LeakTrackReport

#if canImport(Glibc)
    import Glibc
#endif

/// The seeded mutation fuzzer of issue 9: real traces (encoded by the collector's own encoder from traces
/// built like the collector builds them) damaged in every way a file can be (bit flips, changed bytes,
/// truncations, insertions, deletions, changed section lengths, counts and numbers with the framing kept
/// consistent, swapped or repeated sections). Every mutant is decoded, and every one that decodes is analyzed
/// under each grouping, rendered as text and JSON, judged by the gate and rendered in every gate format.
/// It runs in this process: a trap anywhere kills the test run, which is the point.
///
/// `LEAKTRACK_FUZZ_ITERATIONS` (default 12,000, about 25 s in a debug build) and `LEAKTRACK_FUZZ_SEED` change
/// the run; `scripts/torture` runs more.
final class TraceFuzzTests: XCTestCase {
    static var iterations: Int {
        ProcessInfo.processInfo.environment["LEAKTRACK_FUZZ_ITERATIONS"].flatMap { Int($0) } ?? 12_000
    }
    static var seed: UInt64 {
        ProcessInfo.processInfo.environment["LEAKTRACK_FUZZ_SEED"].flatMap { UInt64($0) } ?? 2609
    }

    /// A program's trace as the collector writes it: its executable and libraries, C++ and libc frames with
    /// inlined functions, leaks through operator new and strdup, runtime-only and loader stacks, a stack id the
    /// table dropped, allocations made inside the shim, memory samples, the shim's counters.
    static func programTrace(seed: UInt64, stacks stackCount: Int) -> Trace {
        var random = SeededGenerator(state: seed)
        let modules = [
            Module(path: "/srv/app/server", buildID: [0x9f, 0x12, 0x44, 0x01], bias: 0x5555_5555_4000),
            Module(path: "/usr/lib/x86_64-linux-gnu/libc.so.6", buildID: Array(0..<20), bias: 0x7f00_0000_0000),
            Module(path: "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", buildID: [1, 2, 3], bias: 0x7f10_0000_0000),
            Module(path: "/lib64/ld-linux-x86-64.so.2", buildID: [], bias: 0x7f20_0000_0000),
            Module(path: "/srv/app/libplugin.so", buildID: [0xaa], bias: 0x7f30_0000_0000),
        ]
        let functions: [(module: Int, name: String, file: String?, linkage: String?)] = [
            (1, "malloc", nil, nil), (1, "strdup", nil, nil), (1, "__libc_start_main", nil, nil),
            (1, "_IO_file_doallocate", nil, nil),
            (2, "operator new(unsigned long)", nil, "_Znwm"),
            (2, "std::vector<int>::_M_realloc_insert(int const&)", nil, "_ZNSt6vectorIiE17_M_realloc_insertERKi"),
            (3, "_dl_new_object", nil, nil),
            (0, "main", "/srv/app/src/main.cpp", nil),
            (0, "Server::handle(Request&)", "/srv/app/src/server.cpp", "_ZN6Server6handleER7Request"),
            (0, "parse_header", "/srv/app/src/http.c", nil),
            (0, "Cache::insert(std::string const&)", "/srv/app/src/cache.cpp", "_ZN5Cache6insertERKSs"),
            (4, "plugin_init", "/srv/plugin/init.c", nil), (4, "plugin_alloc", "/srv/plugin/alloc.c", nil),
        ]
        var frames: [Frame] = []
        for (index, f) in functions.enumerated() {
            let offset = UInt64(0x1000 + index * 0x40)
            var symbols = [
                Symbol(
                    function: f.name, file: f.file, line: f.file == nil ? nil : 10 + index,
                    column: f.file == nil ? nil : 5,
                    inlined: false, linkageName: f.linkage)
            ]
            if index % 4 == 0, f.file != nil {
                symbols.insert(
                    Symbol(function: "inline_helper_\(index)", file: f.file, line: 3, column: nil, inlined: true), at: 0
                )
            }
            frames.append(
                Frame(address: modules[f.module].bias + offset, module: f.module, offset: offset, symbols: symbols))
        }
        // A frame the symbolizer found nothing for, and one outside every module (JIT code).
        frames.append(Frame(address: 0x7f30_0000_2345, module: 4, offset: 0x2345, symbols: []))
        frames.append(Frame(address: 0x1234_5678, module: nil, offset: 0x1234_5678, symbols: []))

        var stacks = [Stack(frames: [])]
        var live: [LiveAllocation] = []
        var address: UInt64 = 0x5555_5600_0000
        for id in 1...stackCount {
            let depth = Int.random(in: 1...12, using: &random)
            var chain: [Int]
            switch id % 5 {
            case 0: chain = [0, 2] // runtime only
            case 1: chain = [4, 8, 7, 2] // operator new in Server::handle
            case 2: chain = [6, 3, 2] // the loader
            default: chain = (0..<depth).map { _ in Int.random(in: 0..<frames.count, using: &random) }
            }
            let count = Int.random(in: 0...6, using: &random)
            var bytes: UInt64 = 0
            for _ in 0..<count {
                let size = UInt64.random(in: 1...100_000, using: &random)
                address += UInt64.random(in: 16...4096, using: &random) & ~15
                live.append(LiveAllocation(address: address, size: size, stack: UInt32(id)))
                bytes += size
            }
            stacks.append(
                Stack(
                    frames: chain, allocations: UInt64(count + 3), allocatedBytes: bytes + 100,
                    liveCount: UInt64(count), liveBytes: bytes))
        }
        live.append(LiveAllocation(address: 0x10_0000, size: 64, stack: SpecialStack.none))
        live.append(LiveAllocation(address: 0x20_0000, size: 4096, stack: SpecialStack.dropped))
        var totals = Totals()
        totals.allocations = 123_456
        totals.frees = 120_000
        totals.allocatedBytes = 98_765_432
        totals.peakLiveBytes = 4_000_000
        totals.unknownFrees = 3
        totals.droppedStackAllocations = 1
        totals.events = 250_000
        var trace = Trace(
            process: ProcessSummary(
                pid: 4242, ppid: 1, executable: "/srv/app/server", arguments: ["server", "--port", "8080", "-v"],
                forked: seed % 2 == 0, startTime: 1_700_000_000_000_000_000, durationNanoseconds: 2_500_000_000,
                complete: seed % 3 != 0, exitStatus: seed % 3 == 0 ? nil : 0),
            modules: modules, frames: frames, stacks: stacks,
            live: live.sorted { ($0.stack, $0.address) < ($1.stack, $1.address) }, totals: totals,
            lost: ShimCounters(
                noStack: 1, stacksDropped: 1, bootstrapAllocations: 2, failedAllocations: 0, skippedWords: 0,
                exitStatus: seed % 3 == 0 ? nil : 0),
            samples: (0..<5).map {
                MemorySample(
                    time: UInt64($0) * 100_000_000, residentBytes: 8 << 20, virtualBytes: 64 << 20,
                    heapBytes: UInt64($0) << 16)
            })
        // The long-running sections too: allocation times and threads, the threads named, and snapshots
        // (per-stack sums at three moments, the trace itself last).
        for i in trace.live.indices {
            trace.live[i].stamp = UInt32(i * 7 % 250)
            trace.live[i].thread = UInt16(i % 3)
        }
        trace.threads = [
            ThreadInfo(ordinal: 1, tid: 4242, name: "server"), ThreadInfo(ordinal: 2, tid: 4243, name: "worker"),
        ]
        let held = trace.stacks.indices.filter { trace.stacks[$0].liveCount > 0 }
        let shaped = trace.stacks
        func snapshot(_ k: Int) -> SnapshotSummary {
            let share = UInt64(k)
            let amounts = held.map { id -> StackAmount in
                let stack = shaped[id]
                return StackAmount(
                    stack: UInt32(id), count: stack.liveCount * share / 3, bytes: stack.liveBytes * share / 3)
            }
            return SnapshotSummary(
                index: k, time: share * 800_000_000, trigger: k == 3 ? "exit" : "every", residentBytes: share << 22,
                heapBytes: share << 16, heapCount: share * 10, allocations: share * 40_000, stacks: amounts)
        }
        trace.snapshots = (1...3).map(snapshot)
        // And sampling: the report, every renderer and the gate work on estimates too.
        trace.sampling = Sampling(meanBytes: 512 << 10, samples: 40_000, refused: 3)
        return trace
    }

    /// Section boundaries of an encoded trace: (header offset, payload range).
    static func sections(_ bytes: [UInt8]) -> [(header: Int, payload: Range<Int>)] {
        var result: [(Int, Range<Int>)] = []
        var offset = 12
        while offset + 12 <= bytes.count {
            let declared = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + 4 + $1]) << (8 * UInt64($1)) }
            guard declared <= UInt64(bytes.count - offset - 12) else { break }
            let length = Int(declared)
            result.append((offset, offset + 12..<offset + 12 + length))
            offset += 12 + length
        }
        return result
    }

    static func setLength(_ bytes: inout [UInt8], header: Int, _ length: UInt64) {
        for i in 0..<8 { bytes[header + 4 + i] = UInt8(truncatingIfNeeded: length >> (8 * UInt64(i))) }
    }

    static func varint(_ value: UInt64) -> [UInt8] {
        var w = ByteWriter()
        w.varint(value)
        return w.bytes
    }

    static let interesting: [UInt64] = [
        0, 1, 2, 0x7f, 0x80, 0xff, 511, 512, 513, 0xffff, 1 << 31, UInt64(UInt32.max), 1 << 32,
        1 << 40, 1 << 62, UInt64(Int64.max), 1 << 63, UInt64.max - 1, .max,
    ]

    /// One mutant of `good`: one to four mutations, each on the bytes the previous ones left.
    static func mutate(_ good: [UInt8], using random: inout SeededGenerator) -> [UInt8] {
        var bytes = good
        func position() -> Int { Int.random(in: 0..<bytes.count, using: &random) }
        func value() -> UInt64 {
            switch Int.random(in: 0..<3, using: &random) {
            case 0: return interesting.randomElement(using: &random)!
            case 1: return UInt64.random(in: 1 << 56...UInt64.max, using: &random)
            default:
                return UInt64.random(in: 0...UInt64.max, using: &random) >> UInt64.random(in: 0...63, using: &random)
            }
        }
        for _ in 0..<Int.random(in: 1...4, using: &random) where !bytes.isEmpty {
            let sections = TraceFuzzTests.sections(bytes)
            switch Int.random(in: 0..<16, using: &random) {
            case 0: // bit flips
                for _ in 0..<Int.random(in: 1...4, using: &random) {
                    bytes[position()] ^= 1 << UInt8.random(in: 0...7, using: &random)
                }
            case 1: // a changed byte
                bytes[position()] = [0, 0xff, 0x7f, 0x80, 1, UInt8.random(in: 0...255, using: &random)].randomElement(
                    using: &random)!
            case 2: // truncation
                bytes = Array(bytes.prefix(position()))
            case 3: // inserted or deleted bytes
                let at = position()
                if Bool.random(using: &random) {
                    bytes.insert(
                        contentsOf: (0..<Int.random(in: 1...8, using: &random)).map { _ in
                            UInt8.random(in: 0...255, using: &random)
                        }, at: at)
                } else {
                    bytes.removeSubrange(at..<min(bytes.count, at + Int.random(in: 1...8, using: &random)))
                }
            case 4: // a section's length
                guard let section = sections.randomElement(using: &random) else { continue }
                let length = UInt64(section.payload.count)
                let changed: UInt64 = [0, length &+ 1, length &- 1, length / 2, length &* 2, value()].randomElement(
                    using: &random)!
                setLength(&bytes, header: section.header, changed)
            case 5: // a section's kind: another known one, END, an unknown one
                guard let section = sections.randomElement(using: &random) else { continue }
                let kind: UInt32 = [1, 2, 3, 4, 5, 6, 7, 0xFFFF, 99, UInt32(truncatingIfNeeded: value())].randomElement(
                    using: &random)!
                for i in 0..<4 { bytes[section.header + i] = UInt8(truncatingIfNeeded: kind >> (8 * UInt32(i))) }
            case 6: // a whole section repeated, dropped or moved
                guard let section = sections.randomElement(using: &random) else { continue }
                let whole = section.header..<section.payload.upperBound
                let copy = Array(bytes[whole])
                switch Int.random(in: 0..<3, using: &random) {
                case 0: bytes.insert(contentsOf: copy, at: whole.upperBound)
                case 1: bytes.removeSubrange(whole)
                default:
                    bytes.removeSubrange(whole)
                    bytes.insert(
                        contentsOf: copy, at: min(max(sections.randomElement(using: &random)!.header, 12), bytes.count))
                }
            default: // a number inside a section, the framing kept consistent: counts, indexes, sizes, lines
                // The live section (sizes and addresses, delta-encoded) gets a third of these.
                let live = sections.first {
                    bytes[$0.header] == UInt8(TraceFile.Section.live.rawValue) && !$0.payload.isEmpty
                }
                guard
                    let section = Int.random(in: 0..<3, using: &random) == 0 && live != nil
                        ? live
                        : sections.filter({ !$0.payload.isEmpty }).randomElement(using: &random)
                else { continue }
                // The varint that starts at a random byte, or the section's count.
                let start =
                    Int.random(in: 0...4, using: &random) == 0
                    ? section.payload.lowerBound : Int.random(in: section.payload, using: &random)
                var end = start
                while end < section.payload.upperBound - 1 && bytes[end] & 0x80 != 0 { end += 1 }
                end += 1
                let replacement = varint(value())
                bytes.replaceSubrange(start..<end, with: replacement)
                setLength(
                    &bytes, header: section.header, UInt64(section.payload.count - (end - start) + replacement.count))
            }
        }
        return bytes
    }

    /// Everything the reader's callers do with a trace.
    static func analyze(_ trace: Trace) {
        let rule = Suppressions.Rule(pattern: Pattern("*plugin*"), reason: "fuzz:1")
        var reports: [LeakReport] = []
        for grouping in Grouping.allCases {
            var options = ReportOptions()
            options.grouping = grouping
            options.top = grouping == .stack ? 3 : nil
            options.demangle = grouping != .module
            options.suppressions = Suppressions(useDefaults: grouping != .function, rules: [rule])
            let report = LeakReport(trace: trace, options: options)
            _ = TextRenderer(stackDepth: 8).render(report)
            _ = JSONRenderer().render(report)
            _ = FoldedStacksRenderer().render(report)
            if grouping == .callsite { reports.append(report) }
        }
        var options = ReportOptions()
        options.suppressions = Suppressions(rules: [rule])
        reports.append(LeakReport(trace: trace, options: options))
        let budget = BudgetRule(subject: .module, pattern: Pattern("server"), maxBytes: 1000, maxCount: 10)
        let first = LeakGate(rules: [budget], suppressions: [rule]).evaluate(reports)
        let gate = LeakGate(
            maxLeakedBytes: 4096, rules: [budget], baseline: Baseline(callSites: first.callSites),
            tolerancePercent: 10, suppressions: [rule]
        ).evaluate(reports)
        for result in [first, gate] {
            _ = GateTextRenderer().render(GateVerdict(result, commandStatus: 1))
            _ = GateJSONRenderer().render(GateVerdict(result, commandStatus: 1))
            _ = JUnitRenderer().render(GateVerdict(result, commandStatus: 1))
            _ = SARIFRenderer(sourceRoot: "/srv/app", toolVersion: "0").render(GateVerdict(result))
            _ = GitHubAnnotations(sourceRoot: "/srv/app").render(GateVerdict(result))
            _ = Baseline(callSites: result.callSites).encoded()
        }
    }

    /// Resident memory of this process, in KiB: the current value and the peak.
    static func memory() -> (rss: Int, peak: Int) {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        func field(_ name: String) -> Int {
            status.split(separator: "\n").first { $0.hasPrefix(name) }.flatMap {
                $0.split(separator: " ").dropFirst().first.flatMap { Int($0) }
            } ?? 0
        }
        return (field("VmRSS:"), field("VmHWM:"))
    }

    func testMutatedTracesNeverCrashAndStayBounded() throws {
        let goods = [
            TraceFuzzTests.programTrace(seed: 1, stacks: 12), TraceFuzzTests.programTrace(seed: 2, stacks: 40),
            TraceFuzzTests.programTrace(seed: 3, stacks: 4),
        ].map { TraceFile.encode($0) }
        for good in goods { TraceFuzzTests.analyze(try TraceFile.decode(good, name: "good")) }
        let directory = NSTemporaryDirectory() + "leaktrack-fuzz-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }

        // Reset the peak (clear_refs 5), so it measures this test alone.
        _ = try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
        let before = TraceFuzzTests.memory()
        var random = SeededGenerator(state: TraceFuzzTests.seed)
        var decoded = 0, rejected = 0, slowest = 0.0
        var reasons: [String: Int] = [:]
        let started = Date()
        for iteration in 0..<TraceFuzzTests.iterations {
            let mutant = TraceFuzzTests.mutate(goods[iteration % goods.count], using: &random)
            let one = Date()
            var outcome: Result<Trace, LeakTrackError>
            do {
                outcome = .success(try TraceFile.decode(mutant, name: "fuzz"))
            } catch let error as LeakTrackError {
                outcome = .failure(error)
            } catch {
                return XCTFail("iteration \(iteration): not a LeakTrackError: \(error)")
            }
            switch outcome {
            case .success(let trace):
                decoded += 1
                TraceFuzzTests.analyze(trace)
                // What decodes re-encodes to itself.
                XCTAssertTrue(
                    try TraceFile.decode(TraceFile.encode(trace), name: "again") == trace, "iteration \(iteration)")
            case .failure(let error):
                rejected += 1
                let text = "\(error)"
                XCTAssertFalse(text.contains("\n"), text)
                reasons[String(text.dropFirst("fuzz is ".count).prefix(24)), default: 0] += 1
            }
            // The file reader (1 MiB windows, seeks over unknown sections) agrees with the in-memory one.
            if iteration % 50 == 0 {
                let path = directory + "/mutant.trace"
                try Data(mutant).write(to: URL(fileURLWithPath: path))
                switch (outcome, Result { try TraceFile.read(path: path) }) {
                case (.success(let a), .success(let b)): XCTAssertTrue(a == b, "iteration \(iteration)")
                case (.failure(let a), .failure(let b)):
                    XCTAssertEqual(
                        "\(a)".replacingOccurrences(of: "fuzz", with: path), "\(b)", "iteration \(iteration)")
                default: XCTFail("iteration \(iteration): the file reader and the memory reader disagree")
                }
            }
            let elapsed = Date().timeIntervalSince(one)
            slowest = max(slowest, elapsed)
            XCTAssertLessThan(elapsed, 2, "iteration \(iteration) took \(elapsed) s")
        }
        let after = TraceFuzzTests.memory()
        let seconds = Date().timeIntervalSince(started)
        print(
            "trace fuzzer: \(TraceFuzzTests.iterations) mutants (seed \(TraceFuzzTests.seed)) in \(String(format: "%.1f", seconds)) s: "
                + "\(decoded) decoded and rendered, \(rejected) rejected; slowest \(String(format: "%.3f", slowest)) s; "
                + "peak RSS \(after.peak >> 10) MiB (\(before.rss >> 10) MiB before)")
        print(
            "trace fuzzer: rejections by reason: \(reasons.sorted { $0.value > $1.value }.prefix(12).map { "\($0.key)…: \($0.value)" }.joined(separator: "; "))"
        )
        XCTAssertGreaterThan(decoded, TraceFuzzTests.iterations / 20, "some mutants must get through to the renderers")
        XCTAssertGreaterThan(rejected, TraceFuzzTests.iterations / 2, "most damage must be detected")
        XCTAssertLessThan(
            after.peak - before.rss, 256 << 10, "the fuzzer's mutants must not make the reader allocate much")
    }

    /// The gate's text inputs, damaged the same way: a parse error or a result, never a crash.
    func testMutatedBudgetAndBaselineFilesNeverCrash() {
        let budget = Array(
            "max-leaked-bytes 4096\nmax-leaks 10 # ten\nfunction CFoo_* max-bytes 1048576\nmodule lib*.so max-count 200\ncallsite server.c:16 max-bytes 1024 max-count 8\n"
                .utf8)
        let baseline = Array(
            (Baseline.header
                + "\n# bytes\tcount\tmodule\tfunction\tfile\n1024000\t100\tlibleakcom.so\tCFoo_crtheap\tleakcom.c\n18446744073709551615\t1\tapp\tmain\tmain.c\n")
                .utf8)
        var random = SeededGenerator(state: TraceFuzzTests.seed)
        for _ in 0..<2000 {
            for good in [budget, baseline] {
                let mutant = TraceFuzzTests.mutate(good, using: &random)
                let text = String(decoding: mutant, as: UTF8.self)
                _ = try? BudgetFile.parse(text, name: "b")
                _ = try? Baseline.parse(text, name: "b")
            }
        }
    }
}
