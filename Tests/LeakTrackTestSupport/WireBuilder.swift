import CLeakTrackWire

/// Builds shim streams the way the shim writes them, from leaktrack_wire.h's definitions: each record is its
/// struct's words, filled at the word indices and shifts the header derives from that struct; ring records
/// carry their ring position as a tag and advance it; HELLO (sent over the socket) carries tag 0.
public struct WireBuilder {
    public private(set) var bytes: [UInt8] = []
    public private(set) var position: UInt64 = 0

    public init() {}

    /// The wire header's magic (LT_WIRE_MAGIC), as HELLO carries it.
    public static var magic: [UInt8] {
        var magic = [UInt8](repeating: 0, count: Int(LT_WIRE_MAGIC_SIZE))
        magic.withUnsafeMutableBytes { lt_wire_put_magic($0.baseAddress) }
        return magic
    }

    private mutating func word(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    private mutating func padded(_ data: [UInt8]) {
        bytes.append(contentsOf: data)
        bytes.append(contentsOf: repeatElement(0, count: (8 - data.count % 8) % 8))
    }

    /// Appends a ring record of type `type` (a value of `enum lt_record_type`, or any other for damaged
    /// streams) whose words after the header are `payload`, then `tail` padded to whole words; returns its tag.
    @discardableResult
    public mutating func ring(_ type: UInt32, _ payload: [UInt64], tail: [UInt8] = []) -> UInt64 {
        let words = 1 + payload.count + (tail.count + 7) / 8
        let tag = position
        word(lt_header_make(type, UInt32(words), tag))
        payload.forEach { word($0) }
        if !tail.isEmpty { padded(tail) }
        position += UInt64(words)
        return tag
    }

    /// Appends the record `record` (its struct's words, header word included but left 0), then `tail`.
    @discardableResult
    private mutating func record(_ type: lt_record_type, _ record: [UInt64], tail: [UInt8] = []) -> UInt64 {
        ring(type.rawValue, Array(record.dropFirst()), tail: tail)
    }

    /// HELLO of a saved format-1 stream by default (which still decodes); `magic` replaces the header's.
    /// Before version 4 its fixed part ends at ring_log2 (LT_HELLO_V3_BYTES); `sampleBytes` needs 4.
    public mutating func hello(
        pid: UInt32 = 42, executable: String = "/bin/app", arguments: [String] = ["app", "-v"], version: UInt32 = 1,
        magic: String? = nil, sampleBytes: UInt64 = 0
    ) {
        let exe = Array(executable.utf8), cmd = Array(arguments.joined(separator: "\0").utf8)
        var hello = lt_hello()
        let fixed = version >= 4 ? MemoryLayout<lt_hello>.size : Int(LT_HELLO_V3_BYTES)
        let words = fixed / 8 + (exe.count + 7) / 8 + (cmd.count + 7) / 8
        hello.header = lt_header_make(LT_REC_HELLO.rawValue, UInt32(words), 0).littleEndian
        withUnsafeMutableBytes(of: &hello.magic) { field in
            if let magic {
                let bytes = Array(magic.utf8) + [0]
                for i in 0..<min(bytes.count, field.count) { field[i] = bytes[i] }
            } else {
                lt_wire_put_magic(field.baseAddress)
            }
        }
        hello.version = version.littleEndian
        hello.pointer_size = UInt8(MemoryLayout<UnsafeRawPointer>.size)
        hello.little_endian = 1
        hello.flags = 0
        hello.pid = pid.littleEndian
        hello.ppid = UInt32(1).littleEndian
        hello.realtime_ns = UInt64(1_700_000_000_000_000_000).littleEndian
        hello.monotonic_ns = UInt64(1_000).littleEndian
        hello.max_depth = UInt32(128).littleEndian
        hello.exe_len = UInt32(exe.count).littleEndian
        hello.cmdline_len = UInt32(cmd.count).littleEndian
        hello.ring_log2 = UInt32(16).littleEndian
        hello.sample_bytes = sampleBytes.littleEndian
        withUnsafeBytes(of: hello) { bytes.append(contentsOf: $0.prefix(fixed)) }
        padded(exe)
        padded(cmd)
    }

    public mutating func modules(_ modules: [(path: String, bias: UInt64, segments: [Range<UInt64>])]) {
        var mark = [UInt64](repeating: 0, count: Int(LT_MODULES_MARK_WORDS))
        mark[Int(LT_MODULES_MARK_WORD_ADDS)] = 1
        mark[Int(LT_MODULES_MARK_WORD_SUBS)] = 0
        record(LT_REC_MODULES_BEGIN, mark)
        for m in modules {
            let path = Array(m.path.utf8)
            var module = [UInt64](repeating: 0, count: Int(LT_MODULE_WORDS))
            module[Int(LT_MODULE_WORD_BIAS)] = m.bias
            module[Int(LT_MODULE_WORD_LENGTHS)] =
                UInt64(path.count) | UInt64(m.segments.count) << UInt64(LT_MODULE_NSEGMENTS_SHIFT)
            for segment in m.segments {
                var words = [UInt64](repeating: 0, count: Int(LT_SEGMENT_WORDS))
                words[Int(LT_SEGMENT_WORD_START)] = segment.lowerBound
                words[Int(LT_SEGMENT_WORD_END)] = segment.upperBound
                module += words
            }
            record(LT_REC_MODULE, module, tail: path)
        }
        record(LT_REC_MODULES_END, mark)
    }

    public mutating func stack(_ id: UInt32, _ frames: [UInt64], truncated: Bool = false) {
        var stack = [UInt64](repeating: 0, count: Int(LT_STACK_WORDS))
        let depth = UInt64(frames.count) | (truncated ? UInt64(LT_STACK_TRUNCATED) : 0)
        stack[Int(LT_STACK_WORD_ID)] = UInt64(id) | depth << UInt64(LT_STACK_DEPTH_SHIFT)
        record(LT_REC_STACK, stack + frames)
    }

    /// ALLOC; `kind` is the raw `enum lt_alloc_kind` value (AllocKind's raw values are the same), `thread` the
    /// allocating thread's ordinal (0, unknown, as in streams of format 1 and 2).
    public mutating func alloc(
        _ ptr: UInt64, _ size: UInt64, stack: UInt32, kind: UInt8 = UInt8(LT_KIND_MALLOC.rawValue), thread: UInt16 = 0
    ) {
        var alloc = [UInt64](repeating: 0, count: Int(LT_ALLOC_WORDS))
        alloc[Int(LT_ALLOC_WORD_STACK)] =
            UInt64(stack) | UInt64(kind) << UInt64(LT_ALLOC_KIND_SHIFT) | UInt64(thread)
            << UInt64(LT_ALLOC_THREAD_SHIFT)
        alloc[Int(LT_ALLOC_WORD_PTR)] = ptr
        alloc[Int(LT_ALLOC_WORD_SIZE)] = size
        record(LT_REC_ALLOC, alloc)
    }

    private mutating func free(_ type: lt_record_type, _ ptr: UInt64) -> UInt64 {
        var free = [UInt64](repeating: 0, count: Int(LT_FREE_WORDS))
        free[Int(LT_FREE_WORD_PTR)] = ptr
        return record(type, free)
    }

    public mutating func free(_ ptr: UInt64) { _ = free(LT_REC_FREE, ptr) }

    public mutating func reallocBegin(_ ptr: UInt64) -> UInt64 { free(LT_REC_REALLOC_BEGIN, ptr) }

    public mutating func reallocEnd(
        _ begin: UInt64, newPtr: UInt64, size: UInt64, stack: UInt32, failed: Bool = false, thread: UInt16 = 0
    ) {
        var end = [UInt64](repeating: 0, count: Int(LT_REALLOC_END_WORDS))
        end[Int(LT_REALLOC_END_WORD_BEGIN_TAG)] = lt_tag(begin)
        end[Int(LT_REALLOC_END_WORD_NEW_PTR)] = newPtr
        end[Int(LT_REALLOC_END_WORD_SIZE)] = size
        let status = failed ? LT_REALLOC_FAILED.rawValue : LT_REALLOC_DONE.rawValue
        end[Int(LT_REALLOC_END_WORD_STACK)] =
            UInt64(stack) | UInt64(status) << UInt64(LT_REALLOC_END_STATUS_SHIFT)
            | UInt64(LT_KIND_REALLOC.rawValue) << UInt64(LT_REALLOC_END_KIND_SHIFT)
            | UInt64(thread) << UInt64(LT_REALLOC_END_THREAD_SHIFT)
        record(LT_REC_REALLOC_END, end)
    }

    /// THREAD (format 3): names `ordinal`; `name` is cut to the record's LT_THREAD_NAME_SIZE bytes, NUL padded.
    public mutating func thread(_ ordinal: UInt32, tid: UInt32, name: String) {
        var thread = [UInt64](repeating: 0, count: Int(LT_THREAD_WORDS))
        thread[Int(LT_THREAD_WORD_ORDINAL)] = UInt64(ordinal) | UInt64(tid) << UInt64(LT_THREAD_TID_SHIFT)
        for (i, byte) in name.utf8.prefix(Int(LT_THREAD_NAME_SIZE)).enumerated() {
            thread[Int(LT_THREAD_WORD_NAME) + i / 8] |= UInt64(byte) << UInt64(8 * (i % 8))
        }
        record(LT_REC_THREAD, thread)
    }

    /// TICK, as saved streams of format 1 carry it from the shim.
    public mutating func tick(time: UInt64, rss: UInt64) {
        var tick = [UInt64](repeating: 0, count: Int(LT_TICK_WORDS))
        tick[Int(LT_TICK_WORD_MONOTONIC_NS)] = time
        tick[Int(LT_TICK_WORD_RSS_BYTES)] = rss
        tick[Int(LT_TICK_WORD_VM_BYTES)] = rss * 2
        record(LT_REC_TICK, tick)
    }

    /// Words never published, as the collector records them in saved streams: from here, `words` long.
    public mutating func skip(_ words: UInt64) {
        let from = position
        var skip = [UInt64](repeating: 0, count: Int(LT_SKIP_WORDS))
        skip[Int(LT_SKIP_WORD_FROM_TAG)] = from
        skip[Int(LT_SKIP_WORD_WORDS)] = words
        record(LT_REC_SKIP, skip)
        position = lt_tag(from &+ words)
    }

    public mutating func final(exitStatus: UInt64 = 0) {
        var final = [UInt64](repeating: 0, count: Int(LT_FINAL_WORDS))
        final[Int(LT_FINAL_WORD_EXIT_STATUS)] = exitStatus
        record(LT_REC_FINAL, final)
    }
}
