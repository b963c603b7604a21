import CLeakTrackWire

/// Receives decoded records. The per-event records (ALLOC, FREE) have entry points of their own so that a
/// consumer can take them without a `WireRecord` being built: that is the collector's hot path. By default
/// they arrive through `record(_:)` like everything else.
public protocol StreamConsumer {
    mutating func record(_ record: WireRecord) throws
    mutating func alloc(ptr: UInt64, size: UInt64, stack: UInt32, kind: AllocKind) throws
    mutating func free(ptr: UInt64) throws
}

extension StreamConsumer {
    public mutating func alloc(ptr: UInt64, size: UInt64, stack: UInt32, kind: AllocKind) throws {
        try record(.alloc(ptr: ptr, size: size, stack: stack, kind: kind))
    }

    public mutating func free(ptr: UInt64) throws {
        try record(.free(ptr: ptr))
    }
}

private struct ClosureConsumer: StreamConsumer {
    let handle: (WireRecord) throws -> Void
    func record(_ record: WireRecord) throws { try handle(record) }
}

/// Decodes the shim's binary stream incrementally: feed it bytes as they arrive, in chunks of any size, and
/// it hands out whole records. It checks everything it reads (first record, magic, version, record lengths,
/// the ring position of every record) and throws `LeakTrackError` on anything wrong; no byte sequence can
/// make it crash or loop.
public struct StreamDecoder {
    /// Ring positions are 40-bit tags (LT_TAG_BITS).
    private let tagMask: UInt64 = (1 << 40) - 1
    /// Names the stream in error messages ("the stream from pid 42", a file path).
    public var name: String
    public private(set) var hello: Hello?
    public private(set) var sawFinal = false
    /// `hello != nil`, kept apart so the per-record loop never touches the Hello value.
    private var sawHello = false
    /// Bytes received so far.
    public private(set) var byteCount: UInt64 = 0

    private var pending: [UInt8] = []
    private var expectedTag: UInt64?

    public init(name: String) {
        self.name = name
    }

    /// True when the bytes received so far end exactly at a record boundary.
    public var atRecordBoundary: Bool { pending.isEmpty }

    /// Decodes every whole record in `bytes` (plus what was left over from earlier calls).
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, _ handle: (WireRecord) throws -> Void) throws {
        try withoutActuallyEscaping(handle) { handle in
            var consumer = ClosureConsumer(handle: handle)
            try feed(bytes, into: &consumer)
        }
    }

    /// Decodes every whole record in `bytes` straight into a session (the collector's hot path).
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, into session: Session) throws {
        var consumer = session
        try feed(bytes, into: &consumer)
    }

    public mutating func feed<Consumer: StreamConsumer>(_ bytes: UnsafeRawBufferPointer, into consumer: inout Consumer) throws {
        byteCount += UInt64(bytes.count)
        if pending.isEmpty {
            let used = try decodeRecords(in: bytes, into: &consumer)
            if used < bytes.count { pending.append(contentsOf: bytes[used...]) }
        } else {
            pending.append(contentsOf: bytes)
            let buffer = pending
            let used = try buffer.withUnsafeBytes { try decodeRecords(in: $0, into: &consumer) }
            pending.removeFirst(used)
        }
    }

    /// Call at end of input: throws if it stopped in the middle of a record or before any record.
    public func finish() throws {
        if !sawHello {
            if byteCount == 0 { throw LeakTrackError.truncated(what: "\(name) (empty)") }
            if pending.count < 16 { throw LeakTrackError.truncated(what: name) }
        }
        if !pending.isEmpty { throw LeakTrackError.truncated(what: name) }
    }

    private mutating func decodeRecords<Consumer: StreamConsumer>(
        in bytes: UnsafeRawBufferPointer, into consumer: inout Consumer
    ) throws -> Int {
        var offset = 0
        let allocType = Int(LT_REC_ALLOC.rawValue), freeType = Int(LT_REC_FREE.rawValue)
        while bytes.count - offset >= 8 {
            let header = bytes.word(at: offset)
            let words = Int(lt_header_words(header))
            if words == 0 { throw corrupted("a record has length 0") }
            if !sawHello, bytes.count - offset >= 16, !bytes.hasMagic(at: offset + 8) {
                throw LeakTrackError.notLeakTrackData(path: name)
            }
            guard bytes.count - offset >= words * 8 else { break }
            let type = Int(lt_header_type(header))
            if type == allocType && words == 4 && sawHello {
                try checkTag(header, words: 4)
                let stackKind = bytes.word(at: offset + 8)
                try consumer.alloc(
                    ptr: bytes.word(at: offset + 16), size: bytes.word(at: offset + 24),
                    stack: UInt32(truncatingIfNeeded: stackKind), kind: try kind(UInt8(truncatingIfNeeded: stackKind >> 32)))
            } else if type == freeType && words == 2 && sawHello {
                try checkTag(header, words: 2)
                try consumer.free(ptr: bytes.word(at: offset + 8))
            } else {
                let record = UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + words * 8])
                try consumer.record(try decode(record, header: header))
            }
            offset += words * 8
        }
        return offset
    }

    private func corrupted(_ detail: String) -> LeakTrackError {
        .corrupted(what: name, detail: detail)
    }

    @inline(__always)
    private mutating func checkTag(_ header: UInt64, words: Int) throws {
        let tag = lt_header_tag(header)
        if let expected = expectedTag, tag != expected & tagMask {
            throw corrupted("a record has ring position \(tag) where \(expected & tagMask) was expected")
        }
        expectedTag = tag &+ UInt64(words)
    }

    private mutating func decode(_ r: UnsafeRawBufferPointer, header: UInt64) throws -> WireRecord {
        let type = Int(lt_header_type(header))
        let words = r.count / 8
        func require(_ exact: Int, _ what: String) throws {
            if words != exact { throw corrupted("a \(what) record has \(words) words instead of \(exact)") }
        }
        if !sawHello && type != LT_REC_HELLO.rawValue {
            throw corrupted("the first record is of type \(type), not HELLO")
        }
        switch type {
        case Int(LT_REC_HELLO.rawValue):
            if sawHello { throw corrupted("a second HELLO record") }
            return .hello(try decodeHello(r))
        case Int(LT_REC_MODULES_BEGIN.rawValue):
            try require(3, "MODULES_BEGIN")
            try checkTag(header, words: words)
            return .modulesBegin
        case Int(LT_REC_MODULES_END.rawValue):
            try require(3, "MODULES_END")
            try checkTag(header, words: words)
            return .modulesEnd
        case Int(LT_REC_MODULE.rawValue):
            try checkTag(header, words: words)
            return .module(try decodeModule(r))
        case Int(LT_REC_STACK.rawValue):
            guard words >= 2 else { throw corrupted("a STACK record has \(words) words") }
            try checkTag(header, words: words)
            let idDepth = r.word(at: 8)
            let depth = Int((idDepth >> 32) & ~UInt64(LT_STACK_TRUNCATED))
            guard depth == words - 2 else { throw corrupted("a STACK record claims \(depth) frames in \(words) words") }
            // The trace reader refuses deeper stacks: the shim never captures them.
            guard depth <= Int(LT_MAX_DEPTH) else { throw corrupted("a STACK record of \(depth) frames, more than the shim's deepest (\(LT_MAX_DEPTH))") }
            var frames = [UInt64](repeating: 0, count: depth)
            for i in 0..<depth { frames[i] = r.word(at: 16 + i * 8) }
            return .stack(id: UInt32(truncatingIfNeeded: idDepth), frames: frames,
                          truncated: (idDepth >> 32) & UInt64(LT_STACK_TRUNCATED) != 0)
        case Int(LT_REC_ALLOC.rawValue):
            try require(4, "ALLOC")
            try checkTag(header, words: words)
            let stackKind = r.word(at: 8)
            return .alloc(
                ptr: r.word(at: 16), size: r.word(at: 24), stack: UInt32(truncatingIfNeeded: stackKind),
                kind: try kind(UInt8(truncatingIfNeeded: stackKind >> 32)))
        case Int(LT_REC_FREE.rawValue):
            try require(2, "FREE")
            try checkTag(header, words: words)
            return .free(ptr: r.word(at: 8))
        case Int(LT_REC_REALLOC_BEGIN.rawValue):
            try require(2, "REALLOC_BEGIN")
            try checkTag(header, words: words)
            return .reallocBegin(ptr: r.word(at: 8), tag: lt_header_tag(header))
        case Int(LT_REC_REALLOC_END.rawValue):
            try require(5, "REALLOC_END")
            try checkTag(header, words: words)
            let packed = r.word(at: 32)
            let status = UInt8(truncatingIfNeeded: packed >> 32)
            guard status <= 1 else { throw corrupted("a REALLOC_END record has status \(status)") }
            return .reallocEnd(
                beginTag: r.word(at: 8), newPtr: r.word(at: 16), size: r.word(at: 24),
                stack: UInt32(truncatingIfNeeded: packed), failed: status == UInt8(LT_REALLOC_FAILED.rawValue),
                kind: try kind(UInt8(truncatingIfNeeded: packed >> 40)))
        case Int(LT_REC_TICK.rawValue):
            try require(4, "TICK")
            try checkTag(header, words: words)
            return .tick(MemoryTick(monotonicNanoseconds: r.word(at: 8), residentBytes: r.word(at: 16), virtualBytes: r.word(at: 24)))
        case Int(LT_REC_SKIP.rawValue):
            try require(3, "SKIP")
            let from = r.word(at: 8), count = r.word(at: 16)
            // A SKIP covers words of one ring: more is damage (and would overflow the count of lost words).
            guard count <= UInt64(1) << LT_RING_MAX_LOG2 else { throw corrupted("a SKIP of \(count) words, more than the largest ring holds") }
            if let expected = expectedTag, from != expected & tagMask {
                throw corrupted("a SKIP record starts at ring position \(from) where \(expected) was expected")
            }
            expectedTag = from &+ count
            return .skip(fromTag: from, words: count)
        case Int(LT_REC_FINAL.rawValue):
            try require(8, "FINAL")
            try checkTag(header, words: words)
            sawFinal = true
            let status = r.word(at: 48)
            return .final(
                ShimCounters(
                    noStack: r.word(at: 8), stacksDropped: r.word(at: 16), bootstrapAllocations: r.word(at: 24),
                    failedAllocations: r.word(at: 32), skippedWords: r.word(at: 40),
                    exitStatus: status == UInt64.max ? nil : status))
        default:
            throw corrupted("unknown record type \(type)")
        }
    }

    private func kind(_ raw: UInt8) throws -> AllocKind {
        guard let kind = AllocKind(rawValue: raw) else { throw corrupted("unknown allocation kind \(raw)") }
        return kind
    }

    private mutating func decodeHello(_ r: UnsafeRawBufferPointer) throws -> Hello {
        guard r.count >= MemoryLayout<lt_hello>.size else { throw corrupted("the HELLO record is too short") }
        guard r.hasMagic(at: 8) else { throw LeakTrackError.notLeakTrackData(path: name) }
        let version = r.loadUnaligned(fromByteOffset: 16, as: UInt32.self).littleEndian
        if version > LT_WIRE_VERSION {
            throw LeakTrackError.newerFormat(what: name, found: version, supported: LT_WIRE_VERSION)
        }
        let pointerSize = r[20], littleEndian = r[21]
        guard pointerSize == 8, littleEndian == 1 else {
            throw corrupted("it comes from a \(Int(pointerSize) * 8)-bit or big-endian process, which this leaktrack cannot read")
        }
        let flags = r.loadUnaligned(fromByteOffset: 22, as: UInt16.self).littleEndian
        let exeLength = Int(r.loadUnaligned(fromByteOffset: 52, as: UInt32.self).littleEndian)
        let cmdLength = Int(r.loadUnaligned(fromByteOffset: 56, as: UInt32.self).littleEndian)
        let exeWords = (exeLength + 7) / 8, cmdWords = (cmdLength + 7) / 8
        guard exeLength <= Int(LT_MAX_PATH), cmdLength <= Int(LT_MAX_CMDLINE),
            r.count == 64 + (exeWords + cmdWords) * 8
        else { throw corrupted("the HELLO record's lengths do not add up") }
        // Decoded, invalid UTF-8 grows (3 bytes per bad sequence): what is stored is cut to what the trace
        // reader accepts, or the collector would write traces that its own `report` refuses.
        let executable = TraceFile.Limits.fitted(r.string(at: 64, length: exeLength), bytes: TraceFile.Limits.path)
        let command = r.string(at: 64 + exeWords * 8, length: cmdLength)
        let hello = Hello(
            version: version,
            pid: r.loadUnaligned(fromByteOffset: 24, as: UInt32.self).littleEndian,
            ppid: r.loadUnaligned(fromByteOffset: 28, as: UInt32.self).littleEndian,
            forked: flags & UInt16(LT_HELLO_FORKED) != 0,
            realtimeNanoseconds: r.word(at: 32), monotonicNanoseconds: r.word(at: 40),
            maxDepth: r.loadUnaligned(fromByteOffset: 48, as: UInt32.self).littleEndian,
            executable: executable,
            arguments: StreamDecoder.fittedArguments(command),
            ringLog2: r.loadUnaligned(fromByteOffset: 60, as: UInt32.self).littleEndian)
        self.hello = hello
        sawHello = true
        return hello
    }

    private func decodeModule(_ r: UnsafeRawBufferPointer) throws -> LoadedModule {
        guard r.count >= 24 else { throw corrupted("a MODULE record is too short") }
        let bias = r.word(at: 8)
        let lengths = r.word(at: 16)
        let pathLength = Int(UInt32(truncatingIfNeeded: lengths))
        let buildIDLength = Int(UInt16(truncatingIfNeeded: lengths >> 32))
        let segmentCount = Int(UInt16(truncatingIfNeeded: lengths >> 48))
        let buildWords = (buildIDLength + 7) / 8, pathWords = (pathLength + 7) / 8
        guard pathLength <= Int(LT_MAX_PATH), buildIDLength <= Int(LT_MAX_BUILD_ID),
            segmentCount <= Int(LT_MAX_SEGMENTS),
            r.count == 24 + segmentCount * 16 + (buildWords + pathWords) * 8
        else { throw corrupted("a MODULE record's lengths do not add up") }
        var segments: [Range<UInt64>] = []
        for i in 0..<segmentCount {
            let start = r.word(at: 24 + i * 16), end = r.word(at: 32 + i * 16)
            guard start <= end else { throw corrupted("a module segment ends before it starts") }
            segments.append(start..<end)
        }
        let buildStart = 24 + segmentCount * 16
        let buildID = Array(r[buildStart..<buildStart + buildIDLength])
        let path = TraceFile.Limits.fitted(r.string(at: buildStart + buildWords * 8, length: pathLength), bytes: TraceFile.Limits.path)
        return LoadedModule(path: path, bias: bias, buildID: buildID, segments: segments)
    }

    /// The NUL-separated command line as arguments, together within the trace's command-line limit (each
    /// argument's bytes and its separator), the last ones cut or dropped if decoding made them grow.
    static func fittedArguments(_ command: String) -> [String] {
        guard !command.isEmpty else { return [] }
        var room = TraceFile.Limits.commandLine + 1
        var arguments: [String] = []
        for argument in command.split(separator: "\0", omittingEmptySubsequences: false) {
            guard room > 0 else { break }
            let fitted = TraceFile.Limits.fitted(String(argument), bytes: room - 1)
            arguments.append(fitted)
            room -= fitted.utf8.count + 1
        }
        return arguments
    }
}

extension UnsafeRawBufferPointer {
    @inline(__always)
    func word(at offset: Int) -> UInt64 {
        UInt64(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    func hasMagic(at offset: Int) -> Bool {
        let magic: [UInt8] = Array("LEAKTRK".utf8) + [0]
        guard count >= offset + magic.count else { return false }
        for i in 0..<magic.count where self[offset + i] != magic[i] { return false }
        return true
    }

    func string(at offset: Int, length: Int) -> String {
        String(decoding: self[offset..<offset + length], as: UTF8.self)
    }
}
