import CLeakTrackWire
import Foundation
@testable import LeakTrackCore

/// Builds wire streams the way the shim writes them (see leaktrack_wire.h): ring records carry their ring
/// position as a tag and advance it; HELLO (sent over the socket) carries tag 0.
struct WireBuilder {
    private(set) var bytes: [UInt8] = []
    private(set) var position: UInt64 = 0

    private mutating func word(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    private mutating func padded(_ data: [UInt8]) {
        bytes.append(contentsOf: data)
        bytes.append(contentsOf: repeatElement(0, count: (8 - data.count % 8) % 8))
    }

    private static func header(_ type: UInt64, _ words: Int, _ tag: UInt64) -> UInt64 {
        type | UInt64(words) << 8 | (tag & ((1 << 40) - 1)) << 24
    }

    /// Appends a ring record and returns its tag.
    @discardableResult
    mutating func ring(_ type: UInt64, _ payload: [UInt64], tail: [UInt8] = []) -> UInt64 {
        let words = 1 + payload.count + (tail.count + 7) / 8
        let tag = position
        word(WireBuilder.header(type, words, tag))
        payload.forEach { word($0) }
        if !tail.isEmpty { padded(tail) }
        position += UInt64(words)
        return tag
    }

    mutating func hello(pid: UInt32 = 42, executable: String = "/bin/app", arguments: [String] = ["app", "-v"], version: UInt32 = 1, magic: String = "LEAKTRK") {
        let exe = Array(executable.utf8), cmd = Array(arguments.joined(separator: "\0").utf8)
        let words = 8 + (exe.count + 7) / 8 + (cmd.count + 7) / 8
        word(WireBuilder.header(1, words, 0))
        padded(Array(magic.utf8) + [0])
        var fixed: [UInt8] = []
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { fixed.append(contentsOf: $0) } }
        put(version); put(UInt8(8)); put(UInt8(1)); put(UInt16(0)); put(pid); put(UInt32(1))
        put(UInt64(1_700_000_000_000_000_000)); put(UInt64(1_000)); put(UInt32(128)); put(UInt32(exe.count))
        put(UInt32(cmd.count)); put(UInt32(16))
        bytes.append(contentsOf: fixed)
        padded(exe)
        padded(cmd)
    }

    mutating func modules(_ modules: [(path: String, bias: UInt64, segments: [Range<UInt64>])]) {
        ring(2, [1, 0])
        for m in modules {
            let path = Array(m.path.utf8)
            ring(3, [m.bias, UInt64(path.count) | UInt64(m.segments.count) << 48] + m.segments.flatMap { [$0.lowerBound, $0.upperBound] }, tail: path)
        }
        ring(4, [1, 0])
    }

    mutating func stack(_ id: UInt32, _ frames: [UInt64], truncated: Bool = false) {
        ring(5, [UInt64(id) | (UInt64(frames.count) | (truncated ? UInt64(LT_STACK_TRUNCATED) : 0)) << 32] + frames)
    }
    mutating func alloc(_ ptr: UInt64, _ size: UInt64, stack: UInt32, kind: AllocKind = .malloc) {
        ring(6, [UInt64(stack) | UInt64(kind.rawValue) << 32, ptr, size])
    }
    mutating func free(_ ptr: UInt64) { ring(7, [ptr]) }
    mutating func reallocBegin(_ ptr: UInt64) -> UInt64 { ring(8, [ptr]) }
    mutating func reallocEnd(_ begin: UInt64, newPtr: UInt64, size: UInt64, stack: UInt32, failed: Bool = false) {
        ring(9, [begin, newPtr, size, UInt64(stack) | UInt64(failed ? 1 : 0) << 32 | UInt64(AllocKind.realloc.rawValue) << 40])
    }
    mutating func tick(time: UInt64, rss: UInt64) { ring(10, [time, rss, rss * 2]) }
    mutating func final(exitStatus: UInt64 = 0) { ring(12, [0, 0, 0, 0, 0, exitStatus, 0]) }

    /// Decodes everything with one feed call.
    func decode() throws -> [WireRecord] {
        var decoder = StreamDecoder(name: "test stream")
        var records: [WireRecord] = []
        try bytes.withUnsafeBytes { try decoder.feed($0) { records.append($0) } }
        try decoder.finish()
        return records
    }

    /// Applies the stream to a new session.
    func session() throws -> Session {
        let session = Session()
        try decode().forEach { try session.apply($0) }
        return session
    }
}
