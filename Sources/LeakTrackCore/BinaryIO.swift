/// Little-endian encoding helpers for the trace file. Integers are LEB128 varints (most counts and sizes
/// are small), strings are a varint length then UTF-8 bytes.
public struct ByteWriter {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public mutating func u8(_ value: UInt8) { bytes.append(value) }

    public mutating func fixed32(_ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func fixed64(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    public mutating func varint(_ value: Int) { varint(UInt64(value)) }

    public mutating func string(_ value: String) {
        let utf8 = Array(value.utf8)
        varint(utf8.count)
        bytes.append(contentsOf: utf8)
    }

    public mutating func blob(_ value: [UInt8]) {
        varint(value.count)
        bytes.append(contentsOf: value)
    }

    public mutating func optionalString(_ value: String?) {
        u8(value == nil ? 0 : 1)
        if let value { string(value) }
    }

    public mutating func optionalVarint(_ value: UInt64?) {
        u8(value == nil ? 0 : 1)
        if let value { varint(value) }
    }

    public mutating func append(_ other: [UInt8]) { bytes.append(contentsOf: other) }
}

/// Reads what `ByteWriter` wrote, from bytes in memory or from a file read in windows of 1 MiB (so a large
/// trace is never held whole). Every read is checked against `limit` (the end of the section being read) and
/// throws `LeakTrackError.truncated` or `.corrupted` instead of trapping; offsets are absolute positions in
/// the input.
public struct ByteReader {
    private var window: [UInt8]
    /// Index in `window` of the next byte.
    private var position = 0
    /// The input offset of `window[0]`.
    private var windowOffset: UInt64 = 0
    private let file: InputFile?
    /// Bytes in the input: the array's count, or the file's size at open.
    public let size: UInt64
    /// Reads must end at or before this offset.
    public private(set) var limit: UInt64
    public let name: String

    private static let chunk = 1 << 20

    public init(_ bytes: [UInt8], name: String) {
        window = bytes
        file = nil
        size = UInt64(bytes.count)
        limit = size
        self.name = name
    }

    public init(file: InputFile) {
        window = []
        self.file = file
        size = file.size
        limit = size
        name = file.path
    }

    public var offset: UInt64 { windowOffset + UInt64(position) }
    /// Bytes left before `limit`.
    public var remaining: UInt64 { limit - offset }
    public var isAtLimit: Bool { offset >= limit }

    /// Reads from here on must end at or before `offset` (clamped to the input's size).
    public mutating func setLimit(_ offset: UInt64) { limit = min(offset, size) }

    /// Moves to `target` (at most `limit`), reading nothing in between when the input is a file.
    public mutating func skip(to target: UInt64) throws {
        let target = min(target, limit)
        if target <= windowOffset + UInt64(window.count) {
            position = Int(target - windowOffset)
            return
        }
        guard let file else { throw LeakTrackError.truncated(what: name) }
        try file.seek(to: target)
        window = []
        position = 0
        windowOffset = target
    }

    /// Makes `count` bytes (known to be within `limit`) available at `position`.
    @inline(__always)
    private mutating func ensure(_ count: Int) throws {
        if window.count - position < count { try refill(count) }
    }

    private mutating func refill(_ count: Int) throws {
        guard let file else { throw LeakTrackError.truncated(what: name) }
        window.removeSubrange(0..<position)
        windowOffset += UInt64(position)
        position = 0
        // Read what is asked for, and up to a chunk more, but never beyond the limit.
        let wanted = max(count, min(ByteReader.chunk, Int(clamping: limit - windowOffset)))
        var buffer = [UInt8](repeating: 0, count: wanted - window.count)
        var filled = 0
        while filled < buffer.count {
            let got = try buffer.withUnsafeMutableBytes {
                try file.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[filled...]))
            }
            if got == 0 { break }
            filled += got
        }
        window.append(contentsOf: buffer[0..<filled])
        // The file ended before its size said: it was truncated while being read.
        guard window.count >= count else { throw LeakTrackError.truncated(what: name) }
    }

    public mutating func u8() throws -> UInt8 {
        guard offset < limit else { throw LeakTrackError.truncated(what: name) }
        try ensure(1)
        defer { position += 1 }
        return window[position]
    }

    /// `count` bytes, which must lie before `limit`.
    public mutating func bytes(_ count: Int) throws -> ArraySlice<UInt8> {
        guard UInt64(count) <= remaining else { throw LeakTrackError.truncated(what: name) }
        try ensure(count)
        defer { position += count }
        return window[position..<position + count]
    }

    public mutating func fixed32() throws -> UInt32 {
        var value: UInt32 = 0
        for (i, byte) in try bytes(4).enumerated() { value |= UInt32(byte) << (8 * i) }
        return value
    }

    public mutating func fixed64() throws -> UInt64 {
        var value: UInt64 = 0
        for (i, byte) in try bytes(8).enumerated() { value |= UInt64(byte) << (8 * i) }
        return value
    }

    public mutating func varint() throws -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = try u8()
            if shift == 63 && byte > 1 { throw LeakTrackError.corrupted(what: name, detail: "a number is too large") }
            value |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
            if shift > 63 { throw LeakTrackError.corrupted(what: name, detail: "a number is too long") }
        }
    }

    /// A varint that must be at most `limit`; `what` names it in the error ("a frame's module index").
    public mutating func bounded(_ what: String, max limit: UInt64) throws -> UInt64 {
        let value = try varint()
        guard value <= limit else {
            throw LeakTrackError.corrupted(what: name, detail: "\(what) is \(value), more than \(limit)")
        }
        return value
    }

    /// A count of entries that each take at least `entrySize` bytes: more than the bytes left before `limit`
    /// could hold is an error, so a damaged count cannot make the reader allocate more than the input's size
    /// warrants. `maximum` is the natural bound, if any (the shim's deepest stack); `what` names the entries.
    public mutating func count(of what: String, entrySize: Int, maximum: Int = Int.max, why: String = "") throws -> Int
    {
        let value = try varint()
        let fits = remaining / UInt64(entrySize)
        guard value <= fits else {
            throw LeakTrackError.corrupted(
                what: name, detail: "\(value) \(what) are announced but only \(remaining) bytes are left for them")
        }
        guard value <= UInt64(maximum) else {
            throw LeakTrackError.corrupted(
                what: name, detail: "\(value) \(what), more than \(why.isEmpty ? "\(maximum)" : why)")
        }
        return Int(value)
    }

    /// A string of at most `maximum` bytes; `what` names it in the error.
    public mutating func string(_ what: String = "a string", maximum: Int = Int.max) throws -> String {
        let length = try varint()
        guard length <= remaining else { throw LeakTrackError.truncated(what: name) }
        guard length <= UInt64(maximum) else {
            throw LeakTrackError.corrupted(what: name, detail: "\(what) of \(length) bytes, more than \(maximum)")
        }
        return String(decoding: try bytes(Int(length)), as: UTF8.self)
    }

    public mutating func blob(_ what: String = "a byte string", maximum: Int = Int.max) throws -> [UInt8] {
        let length = try varint()
        guard length <= remaining else { throw LeakTrackError.truncated(what: name) }
        guard length <= UInt64(maximum) else {
            throw LeakTrackError.corrupted(what: name, detail: "\(what) of \(length) bytes, more than \(maximum)")
        }
        return Array(try bytes(Int(length)))
    }

    /// A byte that must be 0 or 1.
    public mutating func bool(_ what: String) throws -> Bool {
        switch try u8() {
        case 0: return false
        case 1: return true
        case let other: throw LeakTrackError.corrupted(what: name, detail: "\(what) is \(other) instead of 0 or 1")
        }
    }

    public mutating func optionalString(_ what: String = "a string", maximum: Int = Int.max) throws -> String? {
        try bool("the presence byte of \(what)") ? try string(what, maximum: maximum) : nil
    }

    public mutating func optionalVarint(_ what: String = "a number", maximum: UInt64 = .max) throws -> UInt64? {
        try bool("the presence byte of \(what)") ? try bounded(what, max: maximum) : nil
    }
}
