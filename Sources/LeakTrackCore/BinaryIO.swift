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

/// Reads what `ByteWriter` wrote; every read checks bounds and throws `LeakTrackError.truncated` or
/// `.corrupted` instead of trapping.
public struct ByteReader {
    private let bytes: [UInt8]
    public private(set) var offset: Int
    private let end: Int
    private let name: String

    public init(_ bytes: [UInt8], name: String, range: Range<Int>? = nil) {
        self.bytes = bytes
        self.name = name
        self.offset = range?.lowerBound ?? 0
        self.end = range?.upperBound ?? bytes.count
    }

    public var isAtEnd: Bool { offset >= end }
    public var remaining: Int { end - offset }

    public mutating func u8() throws -> UInt8 {
        guard offset < end else { throw LeakTrackError.truncated(what: name) }
        defer { offset += 1 }
        return bytes[offset]
    }

    public mutating func fixed32() throws -> UInt32 {
        guard end - offset >= 4 else { throw LeakTrackError.truncated(what: name) }
        var value: UInt32 = 0
        for i in 0..<4 { value |= UInt32(bytes[offset + i]) << (8 * i) }
        offset += 4
        return value
    }

    public mutating func fixed64() throws -> UInt64 {
        guard end - offset >= 8 else { throw LeakTrackError.truncated(what: name) }
        var value: UInt64 = 0
        for i in 0..<8 { value |= UInt64(bytes[offset + i]) << (8 * i) }
        offset += 8
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

    /// A varint used as a count or index: bounded by `limit` so a damaged file cannot ask for huge arrays.
    public mutating func count(limit: Int) throws -> Int {
        let value = try varint()
        guard value <= UInt64(limit) else {
            throw LeakTrackError.corrupted(what: name, detail: "a count of \(value) exceeds \(limit)")
        }
        return Int(value)
    }

    public mutating func string() throws -> String {
        let length = try count(limit: remaining)
        defer { offset += length }
        return String(decoding: bytes[offset..<offset + length], as: UTF8.self)
    }

    public mutating func blob() throws -> [UInt8] {
        let length = try count(limit: remaining)
        defer { offset += length }
        return Array(bytes[offset..<offset + length])
    }

    public mutating func optionalString() throws -> String? {
        try u8() == 0 ? nil : try string()
    }

    public mutating func optionalVarint() throws -> UInt64? {
        try u8() == 0 ? nil : try varint()
    }
}
