import Foundation
import XCTest

@testable import LeakTrackCore

/// A trace file as its sections, so a test can write values the encoder never writes.
struct TraceBytes {
    var sections: [(kind: UInt32, payload: [UInt8])] = []

    init(_ trace: Trace) {
        let bytes = TraceFile.encode(trace)
        var offset = 12
        while offset < bytes.count {
            let kind = bytes[offset..<offset + 4].enumerated().reduce(UInt32(0)) {
                $0 | UInt32($1.element) << (8 * $1.offset)
            }
            let length = bytes[offset + 4..<offset + 12].enumerated().reduce(0) {
                $0 | Int($1.element) << (8 * $1.offset)
            }
            if kind != TraceFile.Section.end.rawValue {
                sections.append((kind, Array(bytes[offset + 12..<offset + 12 + length])))
            }
            offset += 12 + length
        }
    }

    mutating func replace(_ section: TraceFile.Section, _ build: (inout ByteWriter) -> Void) {
        var w = ByteWriter()
        build(&w)
        let index = sections.firstIndex { $0.kind == section.rawValue }!
        sections[index].payload = w.bytes
    }

    /// The file, with `endLength` as the END section's length.
    func bytes(endLength: UInt64 = 0) -> [UInt8] {
        var w = ByteWriter()
        w.append(TraceFile.magic)
        w.fixed32(1) // not sampled
        for (kind, payload) in sections {
            w.fixed32(kind)
            w.fixed64(UInt64(payload.count))
            w.append(payload)
        }
        w.fixed32(TraceFile.Section.end.rawValue)
        w.fixed64(endLength)
        w.append([UInt8](repeating: 0, count: Int(endLength)))
        return w.bytes
    }
}

/// Damaged and crafted traces: every impossible value is a decode error that says what is wrong, found in
/// bounded time, with no allocation the file's size does not warrant.
final class TraceDamageTests: XCTestCase {
    /// Two stacks of one frame each (one module), no live allocations yet.
    func base(live: [LiveAllocation] = []) -> Trace {
        Trace(
            process: ProcessSummary(
                pid: 7, ppid: 1, executable: "/bin/app", arguments: ["app", "-v"], forked: false,
                startTime: 1, durationNanoseconds: 2, complete: true, exitStatus: 0),
            modules: [Module(path: "/bin/app", buildID: [1, 2], bias: 0x1000)],
            frames: [
                Frame(
                    address: 0x1010, module: 0, offset: 0x10,
                    symbols: [Symbol(function: "main", file: "/src/main.c", line: 3)]),
                Frame(address: 0x9000, module: nil, offset: 0x9000, symbols: []),
            ],
            stacks: [Stack(frames: []), Stack(frames: [0, 1]), Stack(frames: [1])],
            live: live, totals: Totals(), lost: ShimCounters(exitStatus: 0),
            samples: [MemorySample(time: 1, residentBytes: 2, virtualBytes: 3, heapBytes: 4)])
    }

    func assertCorrupted(_ bytes: [UInt8], _ detail: String, file: StaticString = #filePath, line: UInt = #line) {
        let started = Date()
        XCTAssertThrowsError(try TraceFile.decode(bytes, name: "t.trace"), file: file, line: line) {
            XCTAssertEqual($0 as? LeakTrackError, .corrupted(what: "t.trace", detail: detail), file: file, line: line)
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 1, file: file, line: line)
    }

    func testLiveSizesThatOverflowWhenSummedAreRefused() {
        let half = UInt64(Int64.max)
        var t = TraceBytes(base())
        // Two blocks of 2^63 - 1 bytes and one of 2: 2^64 bytes in all, which no address space holds.
        t.replace(.live) { w in
            w.varint(3)
            w.varint(1); w.varint(0x1000); w.varint(zigzag(Int64(half)))
            w.varint(0); w.varint(0x1000); w.varint(0)
            w.varint(1); w.varint(0x2000); w.varint(zigzag(2 - Int64(half)))
        }
        assertCorrupted(t.bytes(), "the live allocations add up to more than 2^64 bytes")
        // One of them alone is fine.
        XCTAssertEqual(
            try TraceFile.decode(
                TraceFile.encode(base(live: [LiveAllocation(address: 0x1000, size: half, stack: 1)])), name: "t"
            ).live.map(\.size), [half])
        // A size of 2^63 or more is refused, whether encoded as such or reached by a delta that wraps.
        assertCorrupted(
            TraceFile.encode(base(live: [LiveAllocation(address: 0x1000, size: half + 1, stack: 1)])),
            "a live allocation's size is 9223372036854775808 bytes, more than any allocator returns (2^63 - 1)")
        t.replace(.live) { w in
            w.varint(2)
            w.varint(1); w.varint(0x1000); w.varint(zigzag(10))
            w.varint(0); w.varint(0x10); w.varint(zigzag(-11))
        }
        assertCorrupted(
            t.bytes(),
            "a live allocation's size is 18446744073709551615 bytes, more than any allocator returns (2^63 - 1)")
        // A block cannot wrap around the address space, nor can the delta-encoded addresses.
        assertCorrupted(
            TraceFile.encode(base(live: [LiveAllocation(address: .max - 15, size: 16, stack: 1)])),
            "a live allocation of 16 bytes at 0xfffffffffffffff0 runs past the end of the address space")
        t.replace(.live) { w in
            w.varint(2)
            w.varint(1); w.varint(UInt64.max - 1); w.varint(zigzag(1))
            w.varint(0); w.varint(2); w.varint(0)
        }
        assertCorrupted(t.bytes(), "a live allocation's address is beyond 64 bits")
    }

    func testOutOfRangeNumbersAndIndexesAreRefused() {
        var t = TraceBytes(base())
        func frames(line: UInt64? = 3, column: UInt64? = nil, module: UInt64 = 1, symbols: Int = 1) {
            t = TraceBytes(base())
            t.replace(.frames) { w in
                w.varint(2)
                w.varint(0x1010); w.varint(module); w.varint(0x10); w.varint(symbols)
                for _ in 0..<symbols {
                    w.string("main"); w.optionalString("/src/main.c"); w.optionalVarint(line); w.optionalVarint(column);
                    w.u8(0); w.optionalString(nil)
                }
                w.varint(0x9000); w.varint(0); w.varint(0x9000); w.varint(0)
            }
        }
        // The JSON renderer trapped on lines of 2^63 and more (Int(truncatingIfNeeded:) made them negative).
        frames(line: 1 << 63 + 5)
        assertCorrupted(t.bytes(), "a line number is 9223372036854775813, more than 4294967295")
        frames(line: 1 << 32)
        assertCorrupted(t.bytes(), "a line number is 4294967296, more than 4294967295")
        frames(line: UInt64(UInt32.max))
        XCTAssertEqual(try TraceFile.decode(t.bytes(), name: "t").frames[0].symbols[0].line, Int(UInt32.max))
        frames(column: 1 << 40)
        assertCorrupted(t.bytes(), "a column number is 1099511627776, more than 4294967295")
        frames(module: 2)
        assertCorrupted(t.bytes(), "a frame names module 1, but the trace has 1 modules")
        frames(symbols: TraceFile.Limits.symbolsPerFrame)
        XCTAssertEqual(try TraceFile.decode(t.bytes(), name: "t").frames[0].symbols.count, 64)
        frames(symbols: TraceFile.Limits.symbolsPerFrame + 1)
        assertCorrupted(t.bytes(), "65 symbols in a frame, more than 64")

        t = TraceBytes(base())
        t.replace(.stacks) { w in
            w.varint(2)
            w.varint(0); for _ in 0..<4 { w.varint(0) }
            w.varint(1); w.varint(2); for _ in 0..<4 { w.varint(0) }
        }
        assertCorrupted(t.bytes(), "a stack names frame 2, but the trace has 2 frames")
        t = TraceBytes(base(live: [LiveAllocation(address: 0x10, size: 1, stack: 3)]))
        assertCorrupted(t.bytes(), "an allocation names stack 3, but the trace has 3 stacks")
        // Stack id 0xFFFFFFFF is "stack not recorded", valid whatever the number of stacks.
        XCTAssertEqual(
            try TraceFile.decode(
                TraceFile.encode(base(live: [LiveAllocation(address: 0x10, size: 1, stack: .max)])), name: "t"
            ).live.count, 1)

        t = TraceBytes(base())
        t.replace(.process) { w in
            w.varint(1 << 32); w.varint(1); w.string("/bin/app"); w.varint(0); w.u8(0); w.varint(0); w.varint(0);
            w.u8(1); w.optionalVarint(nil)
        }
        assertCorrupted(t.bytes(), "the process id is 4294967296, more than 4294967295")
        t.replace(.process) { w in
            w.varint(1); w.varint(1); w.string("/bin/app"); w.varint(0); w.u8(0); w.varint(0); w.varint(0); w.u8(2);
            w.optionalVarint(nil)
        }
        assertCorrupted(t.bytes(), "the complete flag is 2 instead of 0 or 1")
    }

    /// What the shim cannot produce: a stack deeper than LT_MAX_DEPTH, a command line longer than
    /// LT_MAX_CMDLINE, paths longer than LT_MAX_PATH, build ids longer than LT_MAX_BUILD_ID.
    func testCountsBeyondTheirNaturalBoundAreRefused() {
        func stacks(depth: Int) -> [UInt8] {
            var t = TraceBytes(base())
            t.replace(.stacks) { w in
                w.varint(2)
                w.varint(0); for _ in 0..<4 { w.varint(0) }
                w.varint(depth); for _ in 0..<depth { w.varint(1) }; for _ in 0..<4 { w.varint(0) }
            }
            return t.bytes()
        }
        XCTAssertEqual(try TraceFile.decode(stacks(depth: 512), name: "t").stacks[1].frames.count, 512)
        assertCorrupted(stacks(depth: 513), "513 frames in a stack, more than the shim's deepest stack (512)")
        // The crafted 1 MB trace of issue 9: one stack of a million frames (report --format json took 7 s and 1.1 GB).
        assertCorrupted(stacks(depth: 1_000_000), "1000000 frames in a stack, more than the shim's deepest stack (512)")

        var t = TraceBytes(base())
        let long = String(repeating: "x", count: 8200)
        t.replace(.process) { w in
            w.varint(1); w.varint(1); w.string("/bin/app"); w.varint(2); w.string(long); w.string(long)
            w.u8(0); w.varint(0); w.varint(0); w.u8(1); w.optionalVarint(nil)
        }
        assertCorrupted(t.bytes(), "the arguments take more than the 16384 bytes of a command line")
        t.replace(.process) { w in
            w.varint(1); w.varint(1); w.string(String(repeating: "p", count: 4097)); w.varint(0)
            w.u8(0); w.varint(0); w.varint(0); w.u8(1); w.optionalVarint(nil)
        }
        assertCorrupted(t.bytes(), "the executable's path of 4097 bytes, more than 4096")
        t = TraceBytes(base())
        t.replace(.modules) { w in
            w.varint(1); w.string("/bin/app"); w.blob([UInt8](repeating: 1, count: 65)); w.varint(0)
        }
        assertCorrupted(t.bytes(), "a build id of 65 bytes, more than 64")
    }

    /// A count says how much to allocate; one larger than the bytes left could hold is damage, found before
    /// anything is allocated (a 2^40-element array would otherwise be asked for).
    func testCountsAreBoundedByTheBytesLeft() {
        for (section, name, size) in [
            (TraceFile.Section.modules, "modules", 3), (.frames, "frames", 4), (.stacks, "stacks", 5),
            (.live, "live allocations", 3), (.memory, "memory samples", 7),
        ] {
            var t = TraceBytes(base())
            t.replace(section) { w in
                w.varint(1 << 40)
                w.append([UInt8](repeating: 0, count: 2 * size - 1))
            }
            assertCorrupted(
                t.bytes(), "1099511627776 \(name) are announced but only \(2 * size - 1) bytes are left for them")
        }
        var t = TraceBytes(base())
        t.replace(.process) { w in
            w.varint(1); w.varint(1); w.string("/bin/app"); w.varint(1 << 40)
        }
        assertCorrupted(t.bytes(), "1099511627776 arguments are announced but only 0 bytes are left for them")
    }

    func testTheFramingIsChecked() {
        var t = TraceBytes(base())
        t.sections[1].payload += [0, 0]
        assertCorrupted(t.bytes(), "the modules section has 2 bytes after its last entry")
        t = TraceBytes(base())
        t.sections.swapAt(5, 6)
        assertCorrupted(t.bytes(), "the summary section comes after the memory section")
        t = TraceBytes(base())
        t.sections.insert(t.sections[1], at: 1)
        assertCorrupted(t.bytes(), "the modules section appears twice")
        t = TraceBytes(base())
        t.sections.remove(at: 5)
        assertCorrupted(t.bytes(), "the summary section is missing")
        assertCorrupted(TraceBytes(base()).bytes(endLength: 3), "the end section has 3 bytes instead of none")
        // Unknown sections (from a later version) are skipped wherever they are, whatever their size.
        t = TraceBytes(base())
        t.sections.insert((99, [UInt8](repeating: 0xff, count: 100_000)), at: 2)
        t.sections.append((0xFFFE, []))
        XCTAssertTrue(try TraceFile.decode(t.bytes(), name: "t") == base())
    }

    /// The reader reads a file in windows; the result is the same as from memory, and a file cut short
    /// while being read is truncated, not a crash.
    func testReadingFromAFileInWindowsGivesTheSameTrace() throws {
        var trace = base()
        // Over a MiB of live allocations and a long string, so reads cross window boundaries.
        trace.live = (0..<400_000).map {
            LiveAllocation(address: 0x10_0000 + UInt64($0) * 32, size: UInt64($0 % 7), stack: 1 + UInt32($0 % 2))
        }
        .sorted { ($0.stack, $0.address) < ($1.stack, $1.address) }
        trace.frames[0].symbols[0].function = String(repeating: "f", count: TraceFile.Limits.name)
        let directory = NSTemporaryDirectory() + "leaktrack-damage-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/t.trace"
        let bytes = TraceFile.encode(trace)
        XCTAssertGreaterThan(bytes.count, 1 << 20)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        // (Not XCTAssertEqual: its message would print both traces.)
        XCTAssertTrue(try TraceFile.read(path: path) == trace)
        try Data(bytes.prefix(bytes.count - 100)).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try TraceFile.read(path: path)) {
            XCTAssertEqual($0 as? LeakTrackError, .truncated(what: path))
        }
    }
}
