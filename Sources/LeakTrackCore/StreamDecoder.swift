import CLeakTrackWire

/// Receives decoded records. The per-event records (ALLOC, FREE) have entry points of their own so that a
/// consumer can take them without a `WireRecord` being built: that is the collector's hot path. By default
/// they arrive through `record(_:)` like everything else.
public protocol StreamConsumer {
    mutating func record(_ record: WireRecord) throws
    mutating func alloc(ptr: UInt64, size: UInt64, stack: UInt32, kind: AllocKind, thread: UInt16) throws
    mutating func free(ptr: UInt64) throws
}

extension StreamConsumer {
    public mutating func alloc(ptr: UInt64, size: UInt64, stack: UInt32, kind: AllocKind, thread: UInt16) throws {
        try record(.alloc(ptr: ptr, size: size, stack: stack, kind: kind, thread: thread))
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
///
/// The layout is leaktrack_wire.h's: record types, lengths (`LT_ALLOC_WORDS`, ...), the word of each field
/// (`LT_ALLOC_WORD_PTR`, ...) and the shifts of the fields that share a word, all derived there from the
/// structs the shim writes through; nothing of it is spelled out here.
public struct StreamDecoder {
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

    public mutating func feed<Consumer: StreamConsumer>(_ bytes: UnsafeRawBufferPointer, into consumer: inout Consumer)
        throws
    {
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
        let allocWords = Int(LT_ALLOC_WORDS), freeWords = Int(LT_FREE_WORDS)
        let allocStack = 8 * Int(LT_ALLOC_WORD_STACK), allocKindShift = UInt64(LT_ALLOC_KIND_SHIFT)
        let allocThreadShift = UInt64(LT_ALLOC_THREAD_SHIFT)
        let allocPtr = 8 * Int(LT_ALLOC_WORD_PTR), allocSize = 8 * Int(LT_ALLOC_WORD_SIZE)
        let freePtr = 8 * Int(LT_FREE_WORD_PTR)
        let magicAt = Int(LT_HELLO_MAGIC_OFFSET), magicEnd = Int(LT_HELLO_MAGIC_OFFSET) + Int(LT_WIRE_MAGIC_SIZE)
        while bytes.count - offset >= 8 {
            let header = bytes.word(at: offset)
            let words = Int(lt_header_words(header))
            if words == 0 { throw corrupted("a record has length 0") }
            if !sawHello, bytes.count - offset >= magicEnd, !bytes.hasMagic(at: offset + magicAt) {
                throw LeakTrackError.notLeakTrackData(path: name)
            }
            guard bytes.count - offset >= words * 8 else { break }
            let type = Int(lt_header_type(header))
            if type == allocType && words == allocWords && sawHello {
                try checkTag(header, words: allocWords)
                let stackKind = bytes.word(at: offset + allocStack)
                try consumer.alloc(
                    ptr: bytes.word(at: offset + allocPtr), size: bytes.word(at: offset + allocSize),
                    stack: UInt32(truncatingIfNeeded: stackKind),
                    kind: try kind(UInt8(truncatingIfNeeded: stackKind >> allocKindShift)),
                    thread: UInt16(truncatingIfNeeded: stackKind >> allocThreadShift))
            } else if type == freeType && words == freeWords && sawHello {
                try checkTag(header, words: freeWords)
                try consumer.free(ptr: bytes.word(at: offset + freePtr))
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
        if let expected = expectedTag, tag != lt_tag(expected) {
            throw corrupted("a record has ring position \(tag) where \(lt_tag(expected)) was expected")
        }
        expectedTag = tag &+ UInt64(words)
    }

    private mutating func decode(_ r: UnsafeRawBufferPointer, header: UInt64) throws -> WireRecord {
        let type = Int(lt_header_type(header))
        let words = r.count / 8
        func require(_ exact: some BinaryInteger, _ what: String) throws {
            if words != Int(exact) { throw corrupted("a \(what) record has \(words) words instead of \(exact)") }
        }
        /// The word at index `index` of the record (an LT_*_WORD_* index).
        func word(_ index: some BinaryInteger) -> UInt64 { r.word(at: 8 * Int(index)) }
        if !sawHello && type != LT_REC_HELLO.rawValue {
            throw corrupted("the first record is of type \(type), not HELLO")
        }
        switch type {
        case Int(LT_REC_HELLO.rawValue):
            if sawHello { throw corrupted("a second HELLO record") }
            return .hello(try decodeHello(r))
        case Int(LT_REC_MODULES_BEGIN.rawValue):
            try require(LT_MODULES_MARK_WORDS, "MODULES_BEGIN")
            try checkTag(header, words: words)
            return .modulesBegin
        case Int(LT_REC_MODULES_END.rawValue):
            try require(LT_MODULES_MARK_WORDS, "MODULES_END")
            try checkTag(header, words: words)
            return .modulesEnd
        case Int(LT_REC_MODULE.rawValue):
            try checkTag(header, words: words)
            return .module(try decodeModule(r))
        case Int(LT_REC_STACK.rawValue):
            let fixed = Int(LT_STACK_WORDS)
            guard words >= fixed else { throw corrupted("a STACK record has \(words) words") }
            try checkTag(header, words: words)
            let idDepth = word(LT_STACK_WORD_ID)
            let depthField = idDepth >> UInt64(LT_STACK_DEPTH_SHIFT)
            let depth = Int(depthField & ~UInt64(LT_STACK_TRUNCATED))
            guard depth == words - fixed else {
                throw corrupted("a STACK record claims \(depth) frames in \(words) words")
            }
            // The trace reader refuses deeper stacks: the shim never captures them.
            guard depth <= Int(LT_MAX_DEPTH) else {
                throw corrupted("a STACK record of \(depth) frames, more than the shim's deepest (\(LT_MAX_DEPTH))")
            }
            var frames = [UInt64](repeating: 0, count: depth)
            for i in 0..<depth { frames[i] = word(fixed + i) }
            return .stack(
                id: UInt32(truncatingIfNeeded: idDepth), frames: frames,
                truncated: depthField & UInt64(LT_STACK_TRUNCATED) != 0)
        case Int(LT_REC_ALLOC.rawValue):
            try require(LT_ALLOC_WORDS, "ALLOC")
            try checkTag(header, words: words)
            let stackKind = word(LT_ALLOC_WORD_STACK)
            return .alloc(
                ptr: word(LT_ALLOC_WORD_PTR), size: word(LT_ALLOC_WORD_SIZE),
                stack: UInt32(truncatingIfNeeded: stackKind),
                kind: try kind(UInt8(truncatingIfNeeded: stackKind >> UInt64(LT_ALLOC_KIND_SHIFT))),
                thread: UInt16(truncatingIfNeeded: stackKind >> UInt64(LT_ALLOC_THREAD_SHIFT)))
        case Int(LT_REC_FREE.rawValue):
            try require(LT_FREE_WORDS, "FREE")
            try checkTag(header, words: words)
            return .free(ptr: word(LT_FREE_WORD_PTR))
        case Int(LT_REC_REALLOC_BEGIN.rawValue):
            try require(LT_FREE_WORDS, "REALLOC_BEGIN")
            try checkTag(header, words: words)
            return .reallocBegin(ptr: word(LT_FREE_WORD_PTR), tag: lt_header_tag(header))
        case Int(LT_REC_REALLOC_END.rawValue):
            try require(LT_REALLOC_END_WORDS, "REALLOC_END")
            try checkTag(header, words: words)
            let packed = word(LT_REALLOC_END_WORD_STACK)
            let status = UInt8(truncatingIfNeeded: packed >> UInt64(LT_REALLOC_END_STATUS_SHIFT))
            guard status == LT_REALLOC_DONE.rawValue || status == LT_REALLOC_FAILED.rawValue else {
                throw corrupted("a REALLOC_END record has status \(status)")
            }
            return .reallocEnd(
                beginTag: word(LT_REALLOC_END_WORD_BEGIN_TAG), newPtr: word(LT_REALLOC_END_WORD_NEW_PTR),
                size: word(LT_REALLOC_END_WORD_SIZE), stack: UInt32(truncatingIfNeeded: packed),
                failed: status == LT_REALLOC_FAILED.rawValue,
                kind: try kind(UInt8(truncatingIfNeeded: packed >> UInt64(LT_REALLOC_END_KIND_SHIFT))),
                thread: UInt16(truncatingIfNeeded: packed >> UInt64(LT_REALLOC_END_THREAD_SHIFT)))
        case Int(LT_REC_TICK.rawValue):
            try require(LT_TICK_WORDS, "TICK")
            try checkTag(header, words: words)
            return .tick(
                MemoryTick(
                    monotonicNanoseconds: word(LT_TICK_WORD_MONOTONIC_NS), residentBytes: word(LT_TICK_WORD_RSS_BYTES),
                    virtualBytes: word(LT_TICK_WORD_VM_BYTES)))
        case Int(LT_REC_SKIP.rawValue):
            try require(LT_SKIP_WORDS, "SKIP")
            let from = word(LT_SKIP_WORD_FROM_TAG), count = word(LT_SKIP_WORD_WORDS)
            // A SKIP covers words of one ring: more is damage (and would overflow the count of lost words).
            guard count <= UInt64(1) << LT_RING_MAX_LOG2 else {
                throw corrupted("a SKIP of \(count) words, more than the largest ring holds")
            }
            if let expected = expectedTag, from != lt_tag(expected) {
                throw corrupted("a SKIP record starts at ring position \(from) where \(expected) was expected")
            }
            expectedTag = from &+ count
            return .skip(fromTag: from, words: count)
        case Int(LT_REC_FINAL.rawValue):
            try require(LT_FINAL_WORDS, "FINAL")
            try checkTag(header, words: words)
            sawFinal = true
            let status = word(LT_FINAL_WORD_EXIT_STATUS)
            return .final(
                ShimCounters(
                    noStack: word(LT_FINAL_WORD_NO_STACK), stacksDropped: word(LT_FINAL_WORD_STACKS_DROPPED),
                    bootstrapAllocations: word(LT_FINAL_WORD_BOOTSTRAP_ALLOCS),
                    failedAllocations: word(LT_FINAL_WORD_FAILED_ALLOCS),
                    skippedWords: word(LT_FINAL_WORD_SKIPPED_WORDS),
                    samplesRefused: word(LT_FINAL_WORD_SAMPLES_REFUSED),
                    exitStatus: status == UInt64(LT_EXIT_UNKNOWN) ? nil : status))
        case Int(LT_REC_THREAD.rawValue):
            try require(LT_THREAD_WORDS, "THREAD")
            try checkTag(header, words: words)
            let ordinalTid = word(LT_THREAD_WORD_ORDINAL)
            let ordinal = UInt32(truncatingIfNeeded: ordinalTid)
            // ALLOC and REALLOC_END carry 16 bits: an ordinal they cannot carry names nothing.
            guard ordinal != LT_THREAD_UNKNOWN && ordinal < LT_THREAD_MANY else {
                throw corrupted("a THREAD record for ordinal \(ordinal)")
            }
            let nameAt = 8 * Int(LT_THREAD_WORD_NAME)
            let name = r[nameAt..<nameAt + Int(LT_THREAD_NAME_SIZE)].prefix { $0 != 0 }
            return .thread(
                ordinal: ordinal, tid: UInt32(truncatingIfNeeded: ordinalTid >> UInt64(LT_THREAD_TID_SHIFT)),
                name: String(decoding: name, as: UTF8.self))
        default:
            throw corrupted("unknown record type \(type)")
        }
    }

    private func kind(_ raw: UInt8) throws -> AllocKind {
        guard let kind = AllocKind(rawValue: raw) else { throw corrupted("unknown allocation kind \(raw)") }
        return kind
    }

    /// HELLO is read through `struct lt_hello`, as the shim writes it.
    private mutating func decodeHello(_ r: UnsafeRawBufferPointer) throws -> Hello {
        guard r.count >= Int(LT_HELLO_V3_BYTES) else { throw corrupted("the HELLO record is too short") }
        guard r.hasMagic(at: Int(LT_HELLO_MAGIC_OFFSET)) else { throw LeakTrackError.notLeakTrackData(path: name) }
        // Read through the struct of this version, whose fixed part is shorter before 4 (no sample_bytes).
        var h = lt_hello()
        let version = UInt32(
            littleEndian: r.loadUnaligned(fromByteOffset: Int(LT_HELLO_VERSION_OFFSET), as: UInt32.self))
        if version > LT_WIRE_VERSION {
            throw LeakTrackError.newerFormat(what: name, found: version, supported: LT_WIRE_VERSION)
        }
        let fixed = version >= 4 ? MemoryLayout<lt_hello>.size : Int(LT_HELLO_V3_BYTES)
        guard r.count >= fixed else { throw corrupted("the HELLO record is too short") }
        withUnsafeMutableBytes(of: &h) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: r[0..<fixed])) }
        // Addresses are 64-bit words on the wire.
        let pointerSize = h.pointer_size, littleEndian = h.little_endian
        guard pointerSize == MemoryLayout<UInt64>.size, littleEndian == 1 else {
            throw corrupted(
                "it comes from a \(Int(pointerSize) * 8)-bit or big-endian process, which this leaktrack cannot read")
        }
        let flags = UInt16(littleEndian: h.flags)
        let exeLength = Int(UInt32(littleEndian: h.exe_len))
        let cmdLength = Int(UInt32(littleEndian: h.cmdline_len))
        let exeWords = Int(lt_words_for_bytes(UInt32(truncatingIfNeeded: exeLength)))
        let cmdWords = Int(lt_words_for_bytes(UInt32(truncatingIfNeeded: cmdLength)))
        guard exeLength <= Int(LT_MAX_PATH), cmdLength <= Int(LT_MAX_CMDLINE),
            r.count == fixed + (exeWords + cmdWords) * 8
        else { throw corrupted("the HELLO record's lengths do not add up") }
        // Decoded, invalid UTF-8 grows (3 bytes per bad sequence): what is stored is cut to what the trace
        // reader accepts, or the collector would write traces that its own `report` refuses.
        let executable = TraceFile.Limits.fitted(r.string(at: fixed, length: exeLength), bytes: TraceFile.Limits.path)
        let command = r.string(at: fixed + exeWords * 8, length: cmdLength)
        var hello = Hello(
            version: version,
            pid: UInt32(littleEndian: h.pid),
            ppid: UInt32(littleEndian: h.ppid),
            forked: flags & UInt16(LT_HELLO_FORKED) != 0,
            realtimeNanoseconds: UInt64(littleEndian: h.realtime_ns),
            monotonicNanoseconds: UInt64(littleEndian: h.monotonic_ns),
            maxDepth: UInt32(littleEndian: h.max_depth),
            executable: executable,
            arguments: StreamDecoder.fittedArguments(command),
            ringLog2: UInt32(littleEndian: h.ring_log2))
        hello.sampleBytes = UInt64(littleEndian: h.sample_bytes)
        // The shim takes at most 64 MiB; the trace reader refuses a mean above Sampling.maxMeanBytes, so the
        // collector must not write one.
        guard hello.sampleBytes <= Sampling.maxMeanBytes else {
            throw corrupted("HELLO says \(hello.sampleBytes) bytes between samples, more than any shim samples")
        }
        self.hello = hello
        sawHello = true
        return hello
    }

    /// MODULE is read word by word, as the shim writes it.
    private func decodeModule(_ r: UnsafeRawBufferPointer) throws -> LoadedModule {
        let fixed = Int(LT_MODULE_WORDS) * 8, segmentBytes = Int(LT_SEGMENT_WORDS) * 8
        guard r.count >= fixed else { throw corrupted("a MODULE record is too short") }
        let bias = r.word(at: 8 * Int(LT_MODULE_WORD_BIAS))
        let lengths = r.word(at: 8 * Int(LT_MODULE_WORD_LENGTHS))
        let pathLength = Int(UInt32(truncatingIfNeeded: lengths))
        let buildIDLength = Int(UInt16(truncatingIfNeeded: lengths >> UInt64(LT_MODULE_BUILD_ID_LEN_SHIFT)))
        let segmentCount = Int(UInt16(truncatingIfNeeded: lengths >> UInt64(LT_MODULE_NSEGMENTS_SHIFT)))
        let buildWords = (buildIDLength + 7) / 8, pathWords = (pathLength + 7) / 8
        guard pathLength <= Int(LT_MAX_PATH), buildIDLength <= Int(LT_MAX_BUILD_ID),
            segmentCount <= Int(LT_MAX_SEGMENTS),
            r.count == fixed + segmentCount * segmentBytes + (buildWords + pathWords) * 8
        else { throw corrupted("a MODULE record's lengths do not add up") }
        var segments: [Range<UInt64>] = []
        for i in 0..<segmentCount {
            let at = fixed + i * segmentBytes
            let start = r.word(at: at + 8 * Int(LT_SEGMENT_WORD_START)),
                end = r.word(at: at + 8 * Int(LT_SEGMENT_WORD_END))
            guard start <= end else { throw corrupted("a module segment ends before it starts") }
            segments.append(start..<end)
        }
        let buildStart = fixed + segmentCount * segmentBytes
        let buildID = Array(r[buildStart..<buildStart + buildIDLength])
        let path = TraceFile.Limits.fitted(
            r.string(at: buildStart + buildWords * 8, length: pathLength), bytes: TraceFile.Limits.path)
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

    /// Whether the wire header's magic (LT_WIRE_MAGIC) is at `offset`.
    func hasMagic(at offset: Int) -> Bool {
        guard let base = baseAddress, offset >= 0, count >= offset + Int(LT_WIRE_MAGIC_SIZE) else { return false }
        return lt_wire_has_magic(base + offset) != 0
    }

    func string(at offset: Int, length: Int) -> String {
        String(decoding: self[offset..<offset + length], as: UTF8.self)
    }
}
