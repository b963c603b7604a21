import Foundation
import LeakTrackTestSupport
import XCTest
@testable import LeakTrackCore

/// A sampled stream's session: the sampled blocks are kept as they are, and every figure made from them (the
/// stacks' amounts, the totals, the snapshots, the heap in the memory samples) is the sum of their weights,
/// 1 / (1 - e^(-size / mean)) each.
final class SamplingTests: XCTestCase {
    let mean: UInt64 = 4096

    func weight(_ size: UInt64) -> Double { 1 / (1 - exp(-Double(size) / Double(mean))) }

    func testTheWeightIsTheInverseOfTheChanceToBeSampled() {
        let sampling = Sampling(meanBytes: mean)
        XCTAssertEqual(sampling.weight(ofSize: 4096), 1 / (1 - exp(-1)), accuracy: 1e-12)
        XCTAssertEqual(sampling.weight(ofSize: 1), 4096.5, accuracy: 0.01) // ~ mean / size + 1/2
        XCTAssertEqual(sampling.weight(ofSize: 100 * 4096), 1, accuracy: 1e-12)
        XCTAssertEqual(sampling.weight(ofSize: 0), 1)
        XCTAssertEqual(sampling.estimate(ofSize: 512).bytes, 512 * weight(512), accuracy: 1e-6)
    }

    func testASampledSessionEstimatesFromItsSamples() throws {
        var w = WireBuilder()
        w.hello(version: 4, sampleBytes: mean)
        w.modules([("/bin/app", 0x400000, [0x401000..<0x402000])])
        w.stack(1, [0x401010])
        w.stack(2, [0x401020])
        w.alloc(0x1000, 64, stack: 1)
        w.alloc(0x2000, 64, stack: 1)
        w.alloc(0x3000, 8192, stack: 2)
        w.free(0x2000)
        w.reallocEnd(w.reallocBegin(0x3000), newPtr: 0x4000, size: 100_000, stack: 2)
        w.free(0x9990) // not sampled: a free the collector finds no block for
        let session = try w.session()
        session.takeSnapshot(trigger: "request")
        let trace = try session.makeTrace(symbolizer: nil, endMonotonicNanoseconds: 0)

        XCTAssertEqual(trace.sampling, Sampling(meanBytes: mean, samples: 4))
        XCTAssertEqual(trace.live.map(\.size), [64, 100_000]) // the samples themselves
        XCTAssertEqual(trace.stacks[1].liveCount, UInt64(weight(64).rounded()))
        XCTAssertEqual(trace.stacks[1].liveBytes, UInt64((64 * weight(64)).rounded()))
        XCTAssertEqual(trace.stacks[1].allocations, UInt64((2 * weight(64)).rounded()))
        XCTAssertEqual(trace.stacks[2].liveBytes, UInt64((100_000 * weight(100_000)).rounded()))
        let allocations = 2 * weight(64) + weight(8192) + weight(100_000)
        XCTAssertEqual(trace.totals.allocations, UInt64(allocations.rounded()))
        XCTAssertEqual(trace.totals.frees, UInt64((weight(64) + weight(8192)).rounded()))
        let snapshot = try XCTUnwrap(trace.snapshots.last)
        XCTAssertEqual(snapshot.heapBytes, UInt64((64 * weight(64) + 100_000 * weight(100_000)).rounded()))
        XCTAssertEqual(snapshot.stacks.map(\.bytes), [trace.stacks[1].liveBytes, trace.stacks[2].liveBytes])
        XCTAssertEqual(snapshot.allocations, trace.totals.allocations)
    }

    func testAnExactSessionHasNoSampling() throws {
        var w = WireBuilder()
        w.hello(version: 4)
        w.modules([("/bin/app", 0x400000, [0x401000..<0x402000])])
        w.stack(1, [0x401010])
        w.alloc(0x1000, 64, stack: 1)
        let trace = try w.session().makeTrace(symbolizer: nil, endMonotonicNanoseconds: 0)
        XCTAssertNil(trace.sampling)
        XCTAssertEqual(trace.stacks[1].liveBytes, 64)
        XCTAssertEqual(trace.totals.allocations, 1)
    }

    /// A sampled trace is version 2, and its sampling survives the file; an exact one stays version 1.
    func testTheSamplingSectionRoundTrips() throws {
        var w = WireBuilder()
        w.hello(version: 4, sampleBytes: 512 << 10)
        w.modules([("/bin/app", 0x400000, [0x401000..<0x402000])])
        w.stack(1, [0x401010])
        w.alloc(0x1000, 64, stack: 1)
        let sampled = try w.session().makeTrace(symbolizer: nil, endMonotonicNanoseconds: 0)
        let bytes = TraceFile.encode(sampled)
        XCTAssertEqual(bytes[8], 2)
        XCTAssertEqual(try TraceFile.decode(bytes, name: "t"), sampled)
        var exact = sampled
        exact.sampling = nil
        XCTAssertEqual(TraceFile.encode(exact)[8], 1)
        // A damaged section: a mean of 0 bytes cannot be.
        var broken = sampled
        broken.sampling = Sampling(meanBytes: 0, samples: 1)
        XCTAssertThrowsError(try TraceFile.decode(TraceFile.encode(broken), name: "t"))
    }
}
