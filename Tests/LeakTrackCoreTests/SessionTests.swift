import LeakTrackTestSupport
import XCTest
@testable import LeakTrackCore

final class SessionTests: XCTestCase {
    func start() -> WireBuilder {
        var w = WireBuilder()
        w.hello()
        w.modules([("/bin/app", 0x400000, [0x401000..<0x402000]), ("/lib/libx.so", 0x7f0000, [0x7f1000..<0x7f2000])])
        w.stack(1, [0x401010, 0x401020])
        w.stack(2, [0x7f1010, 0x401030])
        return w
    }

    func live(_ session: Session) -> [UInt64: LiveTable.Entry] {
        var result: [UInt64: LiveTable.Entry] = [:]
        session.live.forEach { result[$0] = $1 }
        return result
    }

    /// Releasing the live table while making the trace changes nothing in the trace.
    func testTheTraceIsTheSameWhetherTheLiveTableIsReleasedOrNot() throws {
        var w = start()
        var generator = SeededGenerator(state: 3)
        for i in 0..<5000 {
            let ptr = UInt64.random(in: 1...(1 << 20), using: &generator) * 16
            w.alloc(ptr, UInt64(i), stack: UInt32(i % 3))
            if i % 4 == 0 { w.free(ptr) }
        }
        let session = try w.session()
        let expected = live(session).map { LiveAllocation(address: $0.key, size: $0.value.size, stack: $0.value.stack) }
            .sorted { ($0.stack, $0.address) < ($1.stack, $1.address) }
        let kept = try session.makeTrace(symbolizer: nil, endMonotonicNanoseconds: 0)
        XCTAssertEqual(kept.live, expected)
        XCTAssertEqual(session.live.count, expected.count)
        let released = try session.makeTrace(symbolizer: nil, endMonotonicNanoseconds: 0, releasingLiveTable: true)
        XCTAssertEqual(released, kept)
        XCTAssertEqual(session.live.count, 0)
    }

    func testAllocFreeAndAddressReuse() throws {
        var w = start()
        w.alloc(0x1000, 10, stack: 1)
        w.free(0x1000)
        w.alloc(0x1000, 20, stack: 2) // the same address, handed out again
        let session = try w.session()
        XCTAssertEqual(live(session), [0x1000: .init(size: 20, stack: 2)])
        XCTAssertEqual(session.totals.allocations, 2)
        XCTAssertEqual(session.totals.frees, 1)
        XCTAssertEqual(session.totals.peakLiveBytes, 20)
    }

    func testReallocMovesInPlaceFreesAndRestores() throws {
        var w = start()
        w.alloc(0x1000, 10, stack: 1)
        w.reallocEnd(w.reallocBegin(0x1000), newPtr: 0x2000, size: 30, stack: 2) // moved
        w.alloc(0x3000, 5, stack: 1)
        w.reallocEnd(w.reallocBegin(0x3000), newPtr: 0x3000, size: 6, stack: 2) // in place
        w.alloc(0x4000, 7, stack: 1)
        w.reallocEnd(w.reallocBegin(0x4000), newPtr: 0, size: 0, stack: 0) // realloc(p, 0)
        w.alloc(0x5000, 8, stack: 1)
        w.reallocEnd(w.reallocBegin(0x5000), newPtr: 0, size: 0, stack: 0, failed: true) // failed
        let session = try w.session()
        XCTAssertEqual(
            live(session),
            [0x2000: .init(size: 30, stack: 2), 0x3000: .init(size: 6, stack: 2), 0x5000: .init(size: 8, stack: 1)])
        let trace = try session.makeTrace(symbolizer: nil, endMonotonicNanoseconds: 0)
        XCTAssertEqual(trace.stacks[1].liveCount, 1)
        XCTAssertEqual(trace.stacks[1].liveBytes, 8)
        XCTAssertEqual(trace.stacks[2].liveCount, 2)
        XCTAssertEqual(trace.stacks[2].liveBytes, 36)
    }

    func testReuseBetweenReallocBeginAndEnd() throws {
        // Thread A reallocs p; the allocator frees p inside realloc and thread B gets p before A's END.
        var w = start()
        w.alloc(0x1000, 10, stack: 1)
        let begin = w.reallocBegin(0x1000)
        w.alloc(0x1000, 99, stack: 2)
        w.reallocEnd(begin, newPtr: 0x2000, size: 20, stack: 1)
        let session = try w.session()
        XCTAssertEqual(live(session), [0x1000: .init(size: 99, stack: 2), 0x2000: .init(size: 20, stack: 1)])
    }

    func testUnknownFreesAreCountedNotApplied() throws {
        var w = start()
        w.free(0xdead0)
        let session = try w.session()
        XCTAssertEqual(session.totals.unknownFrees, 1)
        XCTAssertEqual(session.live.count, 0)
    }

    func testStackIdMayArriveBeforeItsDefinition() throws {
        var w = WireBuilder()
        w.hello()
        w.modules([("/bin/app", 0, [0x1000..<0x2000])])
        w.alloc(0x10, 64, stack: 3)
        w.stack(3, [0x1100])
        let trace = try w.session().makeTrace(symbolizer: nil, endMonotonicNanoseconds: 0)
        XCTAssertEqual(trace.stacks[3].liveBytes, 64)
        XCTAssertEqual(trace.stacks[3].frames.map { trace.frames[$0].offset }, [0x1100])
    }

    func testFramesResolveAgainstTheSnapshotCurrentWhenTheStackArrived() throws {
        var w = WireBuilder()
        w.hello()
        w.modules([("/lib/a.so", 0x7000, [0x8000..<0x9000])])
        w.stack(1, [0x8010, 0x12345]) // the second frame is in no module
        // a.so is unloaded; b.so lands at the same address.
        w.modules([("/lib/b.so", 0x7000, [0x8000..<0x9000])])
        w.stack(2, [0x8010])
        w.alloc(0x100, 1, stack: 1)
        w.alloc(0x200, 2, stack: 2)
        let trace = try w.session().makeTrace(symbolizer: nil, endMonotonicNanoseconds: 0)
        func modulePath(_ stack: Int, _ frame: Int) -> String? {
            trace.frames[trace.stacks[stack].frames[frame]].module.map { trace.modules[$0].path }
        }
        XCTAssertEqual(modulePath(1, 0), "/lib/a.so")
        XCTAssertNil(modulePath(1, 1))
        XCTAssertEqual(trace.frames[trace.stacks[1].frames[1]].offset, 0x12345, "outside modules: the address itself")
        XCTAssertEqual(modulePath(2, 0), "/lib/b.so")
        XCTAssertEqual(trace.frames[trace.stacks[1].frames[0]].offset, 0x1010)
    }

    final class CountingSymbolizer: Symbolizer {
        var requests: [SymbolRequest] = []
        func symbolize(_ requests: [SymbolRequest]) throws -> [[Symbol]] {
            self.requests += requests
            return requests.map { [Symbol(function: "f\(String($0.address, radix: 16))", file: "a.c", line: 1)] }
        }
    }

    func testEachLiveFrameIsSymbolizedOnceWithTheCallAddress() throws {
        var w = start()
        w.stack(3, [0x401010, 0x401030]) // shares 0x401010 with stack 1
        w.alloc(0x1, 1, stack: 1)
        w.alloc(0x2, 1, stack: 3)
        w.alloc(0x3, 1, stack: 2)
        w.free(0x3) // stack 2 holds nothing at the end: not symbolized
        w.final()
        let symbolizer = CountingSymbolizer()
        let trace = try w.session().makeTrace(symbolizer: symbolizer, endMonotonicNanoseconds: 0)
        XCTAssertEqual(Set(symbolizer.requests.map(\.address)), [0x100f, 0x101f, 0x102f])
        XCTAssertEqual(symbolizer.requests.count, 3)
        XCTAssertEqual(trace.frames[trace.stacks[1].frames[0]].symbols.first?.function, "f100f")
        XCTAssertTrue(trace.process.complete)
        XCTAssertEqual(trace.process.exitStatus, 0)
        XCTAssertEqual(trace.live.count, 2)
    }

    func testAStackIdFarBeyondAnyDefinedOneIsDamageNotAnArraySize() throws {
        var w = start()
        w.alloc(0x1, 1, stack: 4_000_000_000)
        XCTAssertThrowsError(try w.session()) {
            guard case LeakTrackError.corrupted = $0 else { return XCTFail("\($0)") }
        }
        var dropped = start()
        dropped.alloc(0x1, 1, stack: SpecialStack.dropped) // the one large id that is legitimate
        let trace = try dropped.session().makeTrace(symbolizer: nil, endMonotonicNanoseconds: 0)
        XCTAssertEqual(trace.totals.droppedStackAllocations, 1)
        XCTAssertEqual(trace.live, [LiveAllocation(address: 0x1, size: 1, stack: SpecialStack.dropped)])
    }

    func testWithoutFinalTheTraceIsIncomplete() throws {
        var w = start()
        w.alloc(0x1, 1, stack: 1)
        let trace = try w.session().makeTrace(symbolizer: nil, endMonotonicNanoseconds: 0)
        XCTAssertFalse(trace.process.complete)
        XCTAssertNil(trace.process.exitStatus)
    }

    /// Answers the first request, then dies, as a crashing llvm-symbolizer does.
    struct DyingSymbolizer: Symbolizer {
        func symbolize(_ requests: [SymbolRequest]) throws -> [[Symbol]] {
            let first = [Symbol(function: "answered", file: nil, line: nil)]
            throw SymbolizerFailure(
                symbols: [first] + Array(repeating: [], count: requests.count - 1), unanswered: requests.count - 1,
                reason: "llvm-symbolizer was killed by signal 11 after answering 1 of \(requests.count) frames")
        }
    }

    func testASymbolizerThatFailsOrIsMissingLeavesANoteNotALostTrace() throws {
        var w = start()
        w.alloc(0x1, 1, stack: 1)
        w.alloc(0x2, 1, stack: 2)
        w.final()
        let session = try w.session()
        let dying = try session.makeTrace(symbolizer: DyingSymbolizer(), endMonotonicNanoseconds: 0)
        XCTAssertEqual(dying.symbolization?.requested, 4)
        XCTAssertEqual(dying.symbolization?.unanswered, 3)
        XCTAssertTrue(dying.symbolization?.reason.contains("signal 11") ?? false)
        XCTAssertEqual(dying.frames.filter { !$0.symbols.isEmpty }.count, 1, "the answer it gave is kept")

        var missing = try session.makeTrace(symbolizer: nil, endMonotonicNanoseconds: 0)
        XCTAssertNil(missing.symbolization, "a trace made unsymbolized on purpose (a snapshot) has no note")
        missing.symbolizeLiveFrames(with: nil)
        XCTAssertEqual(missing.symbolization?.unanswered, 4)
        XCTAssertTrue(missing.symbolization?.reason.contains("not found") ?? false)

        let complete = try session.makeTrace(symbolizer: CountingSymbolizer(), endMonotonicNanoseconds: 0)
        XCTAssertNil(complete.symbolization)

        // The note survives the trace file, and dump shows it.
        let decoded = try TraceFile.decode(TraceFile.encode(dying), name: "t")
        XCTAssertEqual(decoded.symbolization, dying.symbolization)
        XCTAssertNil(try TraceFile.decode(TraceFile.encode(complete), name: "t").symbolization)
        var lines: [String] = []
        var reader = ByteReader(TraceFile.encode(dying), name: "t")
        try TraceFile.scan(&reader) { TraceDump.line($0).map { lines.append($0) } }
        XCTAssertTrue(lines.contains { $0.hasPrefix("SYMBOLIZATION requested=4 unanswered=3 reason=") }, "\(lines)")
    }
}
