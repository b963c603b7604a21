import XCTest

@testable import LeakTrackCore

/// The core of the long-running workflow: snapshots, allocation times and threads in the session and the
/// trace file, and the bounded memory series.
final class LongRunningCoreTests: XCTestCase {
    func testSnapshotsTimesAndThreadsSurviveTheTraceFile() throws {
        let session = Session()
        try session.apply(.stack(id: 1, frames: [0x1000]))
        try session.apply(.stack(id: 2, frames: [0x2000]))
        try session.apply(.thread(ordinal: 1, tid: 4242, name: "worker"))
        session.advanceClock(to: 1_000_000_000)
        try session.alloc(ptr: 0x10, size: 100, stack: 1, kind: .malloc, thread: 1)
        session.sampleMemory(
            time: 1_000_000_000, residentBytes: 4096, privateBytes: 2048, virtualBytes: 8192, availableBytes: 1 << 30)
        let first = session.takeSnapshot(trigger: "resident>=4K")
        session.advanceClock(to: 2_500_000_000)
        try session.alloc(ptr: 0x20, size: 50, stack: 2, kind: .malloc, thread: 2)
        try session.alloc(ptr: 0x30, size: 60, stack: 1, kind: .malloc, thread: 1)
        session.free(ptr: 0x10)
        let second = session.takeSnapshot(trigger: "request")
        XCTAssertEqual(first.stacks, [StackAmount(stack: 1, count: 1, bytes: 100)])
        XCTAssertEqual(first.residentBytes, 4096)
        XCTAssertEqual(first.privateBytes, 2048)
        XCTAssertEqual(second.index, 2)
        XCTAssertEqual(second.time, 2_500_000_000)
        XCTAssertEqual(
            second.stacks, [StackAmount(stack: 1, count: 1, bytes: 60), StackAmount(stack: 2, count: 1, bytes: 50)])
        XCTAssertEqual(second.heapBytes, 110)
        XCTAssertEqual(second.heapCount, 2)
        XCTAssertEqual(second.allocations, 3)

        let trace = try session.makeTrace(symbolizer: nil, endMonotonicNanoseconds: 3_000_000_000)
        XCTAssertTrue(trace.isSnapshot, "its last snapshot is a request, not the exit")
        XCTAssertEqual(trace.live.map(\.stamp), [250, 250], "both blocks allocated at 2.5 s, in 10 ms units")
        XCTAssertEqual(trace.live.map(\.thread), [1, 2])
        XCTAssertEqual(trace.threads, [ThreadInfo(ordinal: 1, tid: 4242, name: "worker")])
        XCTAssertEqual(trace.samples.first?.availableBytes, 1 << 30)
        let decoded = try TraceFile.decode(TraceFile.encode(trace), name: "t")
        XCTAssertEqual(decoded, trace)
        XCTAssertEqual(decoded.snapshots, [first, second])
    }

    func testAFrozenSessionIsTheStateAtFreezingWhateverHappensAfter() throws {
        let session = Session()
        try session.apply(.stack(id: 1, frames: [0x1000]))
        try session.alloc(ptr: 0x10, size: 100, stack: 1, kind: .malloc, thread: 0)
        let frozen = session.freeze(endMonotonicNanoseconds: 0)
        session.free(ptr: 0x10)
        try session.alloc(ptr: 0x20, size: 7, stack: 1, kind: .malloc, thread: 0)
        let trace = frozen.makeTrace()
        XCTAssertEqual(trace.live.map(\.address), [0x10])
        XCTAssertEqual(trace.stacks[1].liveBytes, 100)
    }

    func testTheMemorySeriesStaysBoundedAndKeepsItsPeaks() {
        var series = MemorySeries(capacity: 64)
        for i in 0..<10_000 {
            let spike: UInt64 = i == 123 ? 1_000_000 : 0
            series.append(
                MemorySample(time: UInt64(i), residentBytes: UInt64(i % 50) + spike, virtualBytes: 0, heapBytes: 0))
        }
        XCTAssertLessThanOrEqual(series.samples.count, 64)
        XCTAssertEqual(series.samples.map(\.time), series.samples.map(\.time).sorted(), "in time order")
        XCTAssertEqual(series.samples.last?.time, 9_999, "the newest sample is kept")
        XCTAssertTrue(series.samples.contains { $0.residentBytes >= 1_000_000 }, "an old peak survives thinning")
        XCTAssertEqual(series.samples.first?.time, 0, "so does the first trough")
    }

    func testSizesAndDurationsAsPeopleTypeThem() {
        XCTAssertEqual(Quantities.bytes("800M"), 800 << 20)
        XCTAssertEqual(Quantities.bytes("1G"), 1 << 30)
        XCTAssertEqual(Quantities.bytes("1.5K"), 1536)
        XCTAssertEqual(Quantities.bytes("4096"), 4096)
        XCTAssertEqual(Quantities.bytes("100MiB"), 100 << 20)
        XCTAssertNil(Quantities.bytes("1x"))
        XCTAssertNil(Quantities.bytes(""))
        XCTAssertNil(Quantities.bytes("-1M"))
        XCTAssertEqual(Quantities.duration("10ms"), 10_000_000)
        XCTAssertEqual(Quantities.duration("1s"), 1_000_000_000)
        XCTAssertEqual(Quantities.duration("10m"), 600_000_000_000)
        XCTAssertEqual(Quantities.duration("2h"), 7_200_000_000_000)
        XCTAssertEqual(Quantities.duration("0.5"), 500_000_000)
        XCTAssertNil(Quantities.duration("soon"))
        XCTAssertEqual(Quantities.shortBytes(800 << 20), "800M")
        XCTAssertEqual(Quantities.shortBytes(1 << 30), "1G")
        XCTAssertEqual(Quantities.shortBytes(1000), "1000")
    }
}
