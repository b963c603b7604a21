import Foundation
import XCTest
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
            process: ProcessSummary(pid: 7, ppid: 1, executable: "/bin/app", arguments: ["app", "ü"], forked: true,
                                    startTime: 123, durationNanoseconds: 456, complete: true, exitStatus: 2),
            modules: [Module(path: "/bin/app", buildID: [0xde, 0xad], bias: 0x400000)],
            frames: [
                Frame(address: 0x401010, module: 0, offset: 0x1010, symbols: [
                    Symbol(function: "inner", file: "a.c", line: 3, column: 4, inlined: true),
                    Symbol(function: "Widget::make()", file: nil, line: nil, inlined: false, linkageName: "_ZN6Widget4makeEv"),
                ]),
                Frame(address: 0x9999, module: nil, offset: 0x9999, symbols: []),
            ],
            stacks: [Stack(frames: []), Stack(frames: [0, 1], allocations: 10, allocatedBytes: 1000, liveCount: 2, liveBytes: 200)],
            live: [LiveAllocation(address: 0x10, size: 100, stack: 1), LiveAllocation(address: 0x20, size: 100, stack: SpecialStack.dropped)],
            totals: totals, lost: ShimCounters(noStack: 1, stacksDropped: 2, bootstrapAllocations: 3, failedAllocations: 4, skippedWords: 5, exitStatus: 2),
            samples: [MemorySample(time: 1, residentBytes: 2, virtualBytes: 3, heapBytes: 4)])
    }

    func testRoundTrip() throws {
        let trace = sampleTrace()
        XCTAssertEqual(try TraceFile.decode(TraceFile.encode(trace), name: "t"), trace)
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
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory).sorted(), ["elsewhere", "out.trace"])
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
        newer[8] = 2
        XCTAssertThrowsError(try TraceFile.decode(newer, name: "t")) {
            guard case LeakTrackError.newerFormat(_, 2, 1) = $0 else { return XCTFail("\($0)") }
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
