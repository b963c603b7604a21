import Foundation
import LeakTrackTestSupport
import XCTest

#if canImport(Glibc)
    import Glibc
#endif
@testable import LeakTrackCore

final class TraceFileTests: XCTestCase {
    func sampleTrace() -> Trace {
        var totals = Totals()
        totals.allocations = 10
        totals.frees = 8
        totals.allocatedBytes = 1000
        totals.peakLiveBytes = 400
        totals.events = 30
        return Trace(
            process: ProcessSummary(
                pid: 7, ppid: 1, executable: "/bin/app", arguments: ["app", "ü"], forked: true,
                startTime: 123, durationNanoseconds: 456, complete: true, exitStatus: 2),
            modules: [Module(path: "/bin/app", buildID: [0xde, 0xad], bias: 0x400000)],
            frames: [
                Frame(
                    address: 0x401010, module: 0, offset: 0x1010,
                    symbols: [
                        Symbol(function: "inner", file: "a.c", line: 3, column: 4, inlined: true),
                        Symbol(
                            function: "Widget::make()", file: nil, line: nil, inlined: false,
                            linkageName: "_ZN6Widget4makeEv"),
                    ]),
                Frame(address: 0x9999, module: nil, offset: 0x9999, symbols: []),
            ],
            stacks: [
                Stack(frames: []),
                Stack(frames: [0, 1], allocations: 10, allocatedBytes: 1000, liveCount: 2, liveBytes: 200),
            ],
            live: [
                LiveAllocation(address: 0x10, size: 100, stack: 1),
                LiveAllocation(address: 0x20, size: 100, stack: SpecialStack.dropped),
            ],
            totals: totals,
            lost: ShimCounters(
                noStack: 1, stacksDropped: 2, bootstrapAllocations: 3, failedAllocations: 4, skippedWords: 5,
                exitStatus: 2),
            samples: [MemorySample(time: 1, residentBytes: 2, virtualBytes: 3, heapBytes: 4)])
    }

    func testRoundTrip() throws {
        let trace = sampleTrace()
        XCTAssertEqual(try TraceFile.decode(TraceFile.encode(trace), name: "t"), trace)
    }

    /// The bytes are the former encoder's, for live allocations sorted or not, repeated (stack, address) pairs,
    /// sizes going down as well as up, and none at all.
    func testStacksCutAtTheDepthLimitStaySo() throws {
        var trace = sampleTrace()
        XCTAssertFalse(TraceFile.encode(trace).isEmpty)
        for index in trace.stacks.indices where index % 2 == 1 { trace.stacks[index].truncated = true }
        let decoded = try TraceFile.decode(TraceFile.encode(trace), name: "t")
        XCTAssertEqual(decoded.stacks.map(\.truncated), trace.stacks.map(\.truncated))
        XCTAssertEqual(decoded, trace)
    }

    func testEncodingIsByteForByteTheFormerEncoding() throws {
        var trace = sampleTrace()
        XCTAssertEqual(TraceFile.encode(trace), formerEncode(trace))
        var generator = SeededGenerator(state: 11)
        trace.live = (0..<20_000).map { i in
            LiveAllocation(
                address: i % 1000 == 0 ? 0x10 : UInt64.random(in: 1...UInt64.max, using: &generator),
                size: i % 7 == 0
                    ? UInt64.random(in: 0...UInt64(UInt32.max), using: &generator)
                    : UInt64.random(in: 0...64, using: &generator),
                stack: [0, 1, SpecialStack.dropped][i % 3])
        }
        XCTAssertEqual(TraceFile.encode(trace), formerEncode(trace))
        trace.live.sort { ($0.stack, $0.address) < ($1.stack, $1.address) }
        XCTAssertEqual(TraceFile.encode(trace), formerEncode(trace))
        XCTAssertEqual(try TraceFile.decode(TraceFile.encode(trace), name: "t"), trace)
        trace.live = []
        XCTAssertEqual(TraceFile.encode(trace), formerEncode(trace))
    }

    /// TraceFile.encode as it was before the live section was written straight into an exactly sized buffer.
    private func formerEncode(_ trace: Trace) -> [UInt8] {
        var file = ByteWriter()
        file.append(TraceFile.magic)
        file.fixed32(1) // a trace that is not sampled is still version 1
        func section(_ kind: TraceFile.Section, _ build: (inout ByteWriter) -> Void) {
            TraceFile.appendSection(kind, to: &file, build)
        }
        section(.process) { w in
            let p = trace.process
            w.varint(UInt64(p.pid))
            w.varint(UInt64(p.ppid))
            w.string(p.executable)
            w.varint(p.arguments.count)
            p.arguments.forEach { w.string($0) }
            w.u8(p.forked ? 1 : 0)
            w.varint(p.startTime)
            w.varint(p.durationNanoseconds)
            w.u8(p.complete ? 1 : 0)
            w.optionalVarint(p.exitStatus)
        }
        section(.modules) { w in
            w.varint(trace.modules.count)
            for m in trace.modules {
                w.string(m.path)
                w.blob(m.buildID)
                w.varint(m.bias)
            }
        }
        section(.frames) { w in
            w.varint(trace.frames.count)
            for f in trace.frames {
                w.varint(f.address)
                w.varint(UInt64(f.module.map { $0 + 1 } ?? 0))
                w.varint(f.offset)
                w.varint(f.symbols.count)
                for s in f.symbols {
                    w.string(s.function)
                    w.optionalString(s.file)
                    w.optionalVarint(s.line.map(UInt64.init))
                    w.optionalVarint(s.column.map(UInt64.init))
                    w.u8(s.inlined ? 1 : 0)
                    w.optionalString(s.linkageName)
                }
            }
        }
        section(.stacks) { w in
            w.varint(trace.stacks.count)
            for s in trace.stacks {
                w.varint(s.frames.count)
                s.frames.forEach { w.varint($0) }
                w.varint(s.allocations)
                w.varint(s.allocatedBytes)
                w.varint(s.liveCount)
                w.varint(s.liveBytes)
            }
        }
        section(.live) { w in
            // Sorted by (stack, address) and delta-encoded: live blocks of one call site are close together
            // in the heap and often of one size, so most entries take 3-4 bytes instead of ~10.
            let live = trace.live.sorted { ($0.stack, $0.address) < ($1.stack, $1.address) }
            w.varint(live.count)
            var previous = LiveAllocation(address: 0, size: 0, stack: 0)
            for a in live {
                let sameStack = a.stack == previous.stack
                w.varint(UInt64(a.stack - previous.stack))
                w.varint(sameStack ? a.address - previous.address : a.address)
                w.varint(zigzag(Int64(bitPattern: a.size &- previous.size)))
                previous = a
            }
        }
        section(.summary) { w in
            let t = trace.totals
            for value in [
                t.allocations, t.frees, t.allocatedBytes, t.peakLiveBytes, t.unknownFrees, t.droppedStackAllocations,
                t.events,
            ] {
                w.varint(value)
            }
            let l = trace.lost
            for value in [l.noStack, l.stacksDropped, l.bootstrapAllocations, l.failedAllocations, l.skippedWords] {
                w.varint(value)
            }
        }
        // The memory section (10) replaced the samples section (7), which this encoder wrote, with the same
        // live section before it.
        section(.memory) { w in
            w.varint(trace.samples.count)
            for s in trace.samples {
                for value in [
                    s.time, s.residentBytes, s.privateBytes, s.virtualBytes, s.heapBytes, s.heapCount, s.availableBytes,
                ] {
                    w.varint(value)
                }
            }
        }
        file.fixed32(TraceFile.Section.end.rawValue)
        file.fixed64(0)
        return file.bytes
    }

    func testAnExistingFileIsReplacedOnlyWhenAsked() throws {
        let directory = NSTemporaryDirectory() + "leaktrack-tracefile-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/out.trace"
        let other = directory + "/elsewhere"
        try Data("someone else's file".utf8).write(to: URL(fileURLWithPath: other))
        // A symlink at the name is not followed: the file it points to keeps its content.
        try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: other)
        XCTAssertThrowsError(try TraceFile.write(sampleTrace(), to: path)) { error in
            XCTAssertEqual(error as? LeakTrackError, .exists(path: path))
        }
        XCTAssertEqual(try String(contentsOfFile: other, encoding: .utf8), "someone else's file")
        try FileManager.default.removeItem(atPath: path)
        try TraceFile.write(sampleTrace(), to: path)
        XCTAssertThrowsError(try TraceFile.write(sampleTrace(), to: path))
        try TraceFile.write(sampleTrace(), to: path, replacing: true)
        XCTAssertEqual(try TraceFile.read(path: path), sampleTrace())
        // No temporary file is left behind either way.
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: directory).sorted(), ["elsewhere", "out.trace"])
    }

    /// Storage never depends on a name someone else can guess: the old temporary name (PATH.tmpPID) planted as
    /// a file, a symlink and a directory, and random temporary names planted, do not stop it.
    func testPlantedTemporaryNamesDoNotStopStorage() throws {
        let directory = NSTemporaryDirectory() + "leaktrack-planted-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let victim = directory + "/victim"
        try Data("not yours".utf8).write(to: URL(fileURLWithPath: victim))
        let path = directory + "/out.trace"
        // The names the collector used to write (it is this process here), and their neighbours.
        for pid in getpid() - 3...getpid() + 3 {
            try Data("planted".utf8).write(to: URL(fileURLWithPath: path + ".tmp\(pid)"))
        }
        try FileManager.default.createSymbolicLink(
            atPath: directory + "/other.trace.tmp\(getpid())", withDestinationPath: victim)
        try FileManager.default.createDirectory(
            atPath: directory + "/third.trace.tmp\(getpid())", withIntermediateDirectories: false)
        let planted = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()

        for name in ["out.trace", "other.trace", "third.trace"] {
            try TraceFile.write(sampleTrace(), to: directory + "/" + name)
            XCTAssertThrowsError(try TraceFile.write(sampleTrace(), to: directory + "/" + name)) {
                XCTAssertEqual($0 as? LeakTrackError, .exists(path: directory + "/" + name))
            }
            try TraceFile.write(sampleTrace(), to: directory + "/" + name, replacing: true)
            XCTAssertTrue(try TraceFile.read(path: directory + "/" + name) == sampleTrace())
        }
        XCTAssertEqual(try String(contentsOfFile: victim, encoding: .utf8), "not yours")
        XCTAssertEqual(try String(contentsOfFile: path + ".tmp\(getpid())", encoding: .utf8), "planted")
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: directory).sorted(),
            (planted + ["out.trace", "other.trace", "third.trace"]).sorted(), "no temporary file is left")

        // Where unnamed files are not supported, taken random names are skipped (and left alone).
        var names = ["a", "b", "c", "d", "e"].makeIterator()
        for taken in ["a", "b", "c"] {
            try Data("planted".utf8).write(to: URL(fileURLWithPath: directory + "/.named.trace.tmp-" + taken))
        }
        var named = AtomicFile(path: directory + "/named.trace", replacing: false)
        named.unnamed = false
        named.randomName = { names.next()! }
        try named.write(TraceFile.encode(sampleTrace()))
        XCTAssertTrue(try TraceFile.read(path: directory + "/named.trace") == sampleTrace())
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/.named.trace.tmp-d"))
        XCTAssertEqual(try String(contentsOfFile: directory + "/.named.trace.tmp-a", encoding: .utf8), "planted")
        // Every name taken: an error that says so, never a replaced file.
        named.randomName = { "a" }
        XCTAssertThrowsError(try named.write([1])) {
            XCTAssertEqual("\($0)", "cannot find a free temporary name beside \(directory)/named.trace: File exists")
        }
        // Replacing through an unnamed file links it under a random name first: taken ones are skipped too.
        var replacing = AtomicFile(path: directory + "/named.trace", replacing: true)
        names = ["a", "b", "f"].makeIterator()
        replacing.randomName = { names.next()! }
        try replacing.write(TraceFile.encode(sampleTrace()))
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/.named.trace.tmp-f"))
    }

    /// Where the filesystem has unnamed files (O_TMPFILE), a trace that replaces nothing never has a name
    /// before its own.
    func testUnnamedFilesAreUsedWhereSupported() throws {
        let directory = NSTemporaryDirectory() + "leaktrack-unnamed-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let probe = open(directory, 0o20_000_000 | O_DIRECTORY | O_WRONLY, 0o600)
        let supported = probe >= 0
        if supported { close(probe) }
        var namesUsed = 0
        var file = AtomicFile(path: directory + "/t.trace", replacing: false)
        file.randomName = {
            namesUsed += 1
            return "n\(namesUsed)"
        }
        try file.write(TraceFile.encode(sampleTrace()))
        XCTAssertTrue(try TraceFile.read(path: directory + "/t.trace") == sampleTrace())
        XCTAssertEqual(namesUsed, supported ? 0 : 1, "O_TMPFILE supported here: \(supported)")
    }

    func testEveryTruncationIsAnError() {
        let bytes = TraceFile.encode(sampleTrace())
        for length in 0..<bytes.count {
            XCTAssertThrowsError(try TraceFile.decode(Array(bytes.prefix(length)), name: "t"), "length \(length)") {
                XCTAssertTrue($0 is LeakTrackError)
            }
        }
    }

    func testForeignAndNewerFiles() {
        XCTAssertThrowsError(try TraceFile.decode(Array("not a trace at all".utf8), name: "t")) {
            guard case LeakTrackError.notLeakTrackData = $0 else { return XCTFail("\($0)") }
        }
        var newer = TraceFile.encode(sampleTrace())
        newer[8] = 3
        XCTAssertThrowsError(try TraceFile.decode(newer, name: "t")) {
            guard case LeakTrackError.newerFormat(_, 3, 2) = $0 else { return XCTFail("\($0)") }
        }
    }

    func testRandomDamageNeverCrashes() {
        var generator = SeededGenerator(state: 5)
        let good = TraceFile.encode(sampleTrace())
        var rejected = 0
        for _ in 0..<2000 {
            var bytes = good
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let i = Int.random(in: 12..<bytes.count, using: &generator)
                bytes[i] = UInt8.random(in: 0...255, using: &generator)
            }
            do {
                _ = try TraceFile.decode(bytes, name: "t")
            } catch is LeakTrackError {
                rejected += 1
            } catch {
                XCTFail("\(error)")
            }
        }
        XCTAssertGreaterThan(rejected, 0)
    }
}
