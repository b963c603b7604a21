import LeakTrackTestSupport
import XCTest
import CLeakTrackWire
@testable import LeakTrackCore

final class DecoderTests: XCTestCase {
    func sampleStream() -> WireBuilder {
        var w = WireBuilder()
        w.hello()
        w.modules([("/bin/app", 0x1000, [0x2000..<0x3000])])
        w.stack(1, [0x2010, 0x2020])
        w.alloc(0xa000, 100, stack: 1)
        let begin = w.reallocBegin(0xa000)
        w.reallocEnd(begin, newPtr: 0xb000, size: 200, stack: 1)
        w.tick(time: 5_000, rss: 4096)
        w.free(0xb000)
        w.final(exitStatus: 3)
        return w
    }

    func testValidStreamDecodesToTheRecordsWritten() throws {
        let records = try sampleStream().decode()
        XCTAssertEqual(records.count, 11)
        guard case .hello(let hello) = records[0] else { return XCTFail("first record: \(records[0])") }
        XCTAssertEqual(hello.pid, 42)
        XCTAssertEqual(hello.executable, "/bin/app")
        XCTAssertEqual(hello.arguments, ["app", "-v"])
        XCTAssertEqual(hello.maxDepth, 128)
        XCTAssertEqual(hello.ringLog2, 16)
        XCTAssertEqual(records[1], .modulesBegin)
        XCTAssertEqual(
            records[2], .module(LoadedModule(path: "/bin/app", bias: 0x1000, buildID: [], segments: [0x2000..<0x3000])))
        XCTAssertEqual(records[3], .modulesEnd)
        XCTAssertEqual(records[4], .stack(id: 1, frames: [0x2010, 0x2020]))
        XCTAssertEqual(records[5], .alloc(ptr: 0xa000, size: 100, stack: 1, kind: .malloc, thread: 0))
        guard case .reallocBegin(0xa000, let tag) = records[6] else { return XCTFail("\(records[6])") }
        XCTAssertEqual(
            records[7],
            .reallocEnd(beginTag: tag, newPtr: 0xb000, size: 200, stack: 1, failed: false, kind: .realloc, thread: 0))
        XCTAssertEqual(
            records[8], .tick(MemoryTick(monotonicNanoseconds: 5_000, residentBytes: 4096, virtualBytes: 8192)))
        XCTAssertEqual(records[9], .free(ptr: 0xb000))
        XCTAssertEqual(records[10], .final(ShimCounters(exitStatus: 3)))
    }

    func testEveryChunkingGivesTheSameRecords() throws {
        let stream = sampleStream()
        let expected = try stream.decode()
        var generator = SeededGenerator(state: 7)
        for trial in 0..<200 {
            var decoder = StreamDecoder(name: "chunked")
            var records: [WireRecord] = []
            var offset = 0
            while offset < stream.bytes.count {
                let size = trial == 0 ? 1 : Int.random(in: 1...40, using: &generator)
                let end = min(stream.bytes.count, offset + size)
                try stream.bytes[offset..<end].withUnsafeBytes { try decoder.feed($0) { records.append($0) } }
                offset = end
            }
            try decoder.finish()
            XCTAssertEqual(records, expected, "trial \(trial)")
        }
    }

    func assertThrows(
        _ bytes: [UInt8], _ check: (LeakTrackError) -> Bool, file: StaticString = #filePath, line: UInt = #line
    ) {
        var decoder = StreamDecoder(name: "bad")
        do {
            try bytes.withUnsafeBytes { try decoder.feed($0) { _ in } }
            try decoder.finish()
            XCTFail("no error", file: file, line: line)
        } catch let error as LeakTrackError {
            XCTAssertTrue(check(error), "\(error)", file: file, line: line)
        } catch {
            XCTFail("not a LeakTrackError: \(error)", file: file, line: line)
        }
    }

    /// AllocKind's raw values are the wire header's LT_KIND_*: each kind decodes from the value the shim writes.
    func testAllocKindsAreTheWireHeadersKinds() throws {
        for kind in AllocKind.allCases {
            XCTAssertEqual(UInt32(kind.rawValue), kind.wireKind.rawValue, "\(kind)")
            var w = WireBuilder()
            w.hello()
            w.alloc(0x10, 8, stack: 1, kind: UInt8(kind.wireKind.rawValue))
            XCTAssertEqual(try w.decode().last, .alloc(ptr: 0x10, size: 8, stack: 1, kind: kind, thread: 0))
        }
    }

    /// Format 3: THREAD names an ordinal, and ALLOC and REALLOC_END carry the allocating thread's.
    func testThreadRecordsAndTheAllocatingThread() throws {
        var w = WireBuilder()
        w.hello(version: 3)
        w.thread(1, tid: 4242, name: "main")
        w.alloc(0xa000, 100, stack: 0, thread: 1)
        w.thread(2, tid: 4243, name: "a-name-longer-than-16-bytes")
        w.thread(UInt32(SpecialThread.many) - 1, tid: 7, name: "")
        w.alloc(0xb000, 200, stack: 0, kind: UInt8(LT_KIND_CALLOC.rawValue), thread: 2)
        w.alloc(0xc000, 300, stack: 0, thread: SpecialThread.many)
        let begin = w.reallocBegin(0xa000)
        w.reallocEnd(begin, newPtr: 0xd000, size: 400, stack: 0, thread: 2)
        let records = try w.decode()
        XCTAssertEqual(
            Array(records.dropFirst()),
            [
                .thread(ordinal: 1, tid: 4242, name: "main"),
                .alloc(ptr: 0xa000, size: 100, stack: 0, kind: .malloc, thread: 1),
                .thread(ordinal: 2, tid: 4243, name: "a-name-longer-th"),
                .thread(ordinal: 65534, tid: 7, name: ""),
                .alloc(ptr: 0xb000, size: 200, stack: 0, kind: .calloc, thread: 2),
                .alloc(ptr: 0xc000, size: 300, stack: 0, kind: .malloc, thread: SpecialThread.many),
                .reallocBegin(ptr: 0xa000, tag: begin),
                .reallocEnd(
                    beginTag: begin, newPtr: 0xd000, size: 400, stack: 0, failed: false, kind: .realloc, thread: 2),
            ])
        // The collector's path (the session, straight from the decoder) takes them too.
        let session = Session()
        var decoder = StreamDecoder(name: "threads")
        try w.bytes.withUnsafeBytes { try decoder.feed($0, into: session) }
        XCTAssertEqual(session.live.count, 3)
        XCTAssertEqual(TraceDump.line(records[1]), "THREAD 1 tid=4242 name=\"main\"")
        XCTAssertEqual(TraceDump.line(records[2]), "ALLOC 0xa000 size=100 stack=0 via=malloc thread=1")

        // An ordinal no ALLOC can carry names nothing: damage.
        for ordinal in [UInt32(SpecialThread.unknown), UInt32(SpecialThread.many), 1 << 20] {
            var bad = WireBuilder()
            bad.hello(version: 3)
            bad.thread(ordinal, tid: 1, name: "x")
            XCTAssertThrowsError(try bad.decode(), "ordinal \(ordinal)") {
                guard case LeakTrackError.corrupted = $0 else { return XCTFail("\($0)") }
            }
        }
    }

    /// A stream of format 2 (the last without threads) still decodes: every thread is unknown.
    func testAFormat2StreamDecodesWithoutThreads() throws {
        var w = WireBuilder()
        w.hello(version: 2)
        w.alloc(0xa000, 100, stack: 0)
        let begin = w.reallocBegin(0xa000)
        w.reallocEnd(begin, newPtr: 0xb000, size: 200, stack: 0)
        let records = try w.decode()
        guard case .hello(let hello) = records[0] else { return XCTFail("\(records[0])") }
        XCTAssertEqual(hello.version, 2)
        XCTAssertEqual(
            records[1], .alloc(ptr: 0xa000, size: 100, stack: 0, kind: .malloc, thread: SpecialThread.unknown))
        XCTAssertEqual(
            records[3],
            .reallocEnd(
                beginTag: begin, newPtr: 0xb000, size: 200, stack: 0, failed: false, kind: .realloc,
                thread: SpecialThread.unknown))
        for version: UInt32 in 1...LT_WIRE_VERSION {
            var any = WireBuilder()
            any.hello(version: version)
            XCTAssertNoThrow(try any.decode(), "version \(version)")
        }
    }

    func testAStackCutAtTheDepthLimitIsMarked() throws {
        var w = WireBuilder()
        w.hello()
        w.stack(1, [0x2010, 0x2020], truncated: true)
        w.stack(2, [0x2010, 0x2020])
        let records = try w.decode()
        XCTAssertEqual(
            Array(records.suffix(2)),
            [
                .stack(id: 1, frames: [0x2010, 0x2020], truncated: true),
                .stack(id: 2, frames: [0x2010, 0x2020], truncated: false),
            ])
    }

    func testBadStreamsAreRejectedWithTheRightError() {
        func truncated(_ e: LeakTrackError) -> Bool { if case .truncated = e { return true }; return false }
        func corrupted(_ e: LeakTrackError) -> Bool { if case .corrupted = e { return true }; return false }
        assertThrows([], truncated)
        let good = sampleStream().bytes
        assertThrows(Array(good.prefix(good.count - 3)), truncated)
        assertThrows(Array(good.prefix(100)), truncated)

        var foreign = WireBuilder()
        foreign.hello(magic: "NOTOURS")
        assertThrows(
            foreign.bytes,
            {
                if case .notLeakTrackData = $0 { return true }; return false
            })

        var newer = WireBuilder()
        newer.hello(version: LT_WIRE_VERSION + 1)
        assertThrows(
            newer.bytes,
            {
                if case .newerFormat(_, LT_WIRE_VERSION + 1, LT_WIRE_VERSION) = $0 { return true }; return false
            })

        var lying = WireBuilder()
        lying.hello(version: 4, sampleBytes: 1 << 41)
        assertThrows(lying.bytes, corrupted)

        var wrongTag = WireBuilder()
        wrongTag.hello()
        wrongTag.free(0x10) // position 0, so the next record must claim position 2 ...
        wrongTag.alloc(0x10, 1, stack: 0)
        var bytes = wrongTag.bytes
        let allocHeader = bytes.count - Int(LT_ALLOC_WORDS) * 8
        let claimsOne = lt_header_make(LT_REC_ALLOC.rawValue, UInt32(LT_ALLOC_WORDS), 1) // ... not 1
        bytes.replaceSubrange(
            allocHeader..<allocHeader + 8, with: withUnsafeBytes(of: claimsOne.littleEndian, Array.init))
        assertThrows(bytes, corrupted)

        var zero = WireBuilder()
        zero.hello()
        assertThrows(zero.bytes + [0, 0, 0, 0, 0, 0, 0, 0], corrupted)

        var unknown = WireBuilder()
        unknown.hello()
        unknown.ring(99, [1])
        assertThrows(unknown.bytes, corrupted)

        var noHello = WireBuilder()
        noHello.free(0x10)
        assertThrows(
            noHello.bytes,
            {
                if case .notLeakTrackData = $0 { return true }; if case .corrupted = $0 { return true }; return false
            })

        var badKind = WireBuilder()
        badKind.hello()
        badKind.alloc(0x10, 8, stack: 1, kind: 77)
        assertThrows(badKind.bytes, corrupted)
    }

    /// Random bytes and random damage to a good stream: an error or a result, never a crash or a hang.
    func testRandomAndMutatedInputNeverCrashes() {
        var generator = SeededGenerator(state: 2026)
        let good = sampleStream().bytes
        var outcomes = (decoded: 0, rejected: 0)
        for trial in 0..<4000 {
            var bytes: [UInt8]
            if trial < 2000 {
                bytes = (0..<Int.random(in: 0...300, using: &generator)).map { _ in
                    UInt8.random(in: 0...255, using: &generator)
                }
                let magic = Int(LT_HELLO_MAGIC_OFFSET)..<Int(LT_HELLO_MAGIC_OFFSET) + Int(LT_WIRE_MAGIC_SIZE)
                if trial % 2 == 0, bytes.count >= magic.upperBound {
                    bytes.replaceSubrange(magic, with: WireBuilder.magic)
                }
            } else {
                bytes = good
                for _ in 0..<Int.random(in: 1...6, using: &generator) {
                    let i = Int.random(in: 0..<bytes.count, using: &generator)
                    switch Int.random(in: 0...2, using: &generator) {
                    case 0: bytes[i] ^= UInt8.random(in: 1...255, using: &generator)
                    case 1: bytes.insert(UInt8.random(in: 0...255, using: &generator), at: i)
                    default: bytes.remove(at: i)
                    }
                    if bytes.isEmpty { break }
                }
            }
            var decoder = StreamDecoder(name: "fuzz")
            let session = Session()
            do {
                try bytes.withUnsafeBytes { try decoder.feed($0) { try session.apply($0) } }
                try decoder.finish()
                _ = try session.makeTrace(symbolizer: nil, endMonotonicNanoseconds: 0)
                outcomes.decoded += 1
            } catch is LeakTrackError {
                outcomes.rejected += 1
            } catch {
                XCTFail("trial \(trial): unexpected error \(error)")
            }
        }
        XCTAssertEqual(outcomes.decoded + outcomes.rejected, 4000)
        XCTAssertGreaterThan(outcomes.rejected, 2000, "most damage must be detected")
    }
}
