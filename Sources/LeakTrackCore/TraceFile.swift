#if canImport(Glibc)
    import Glibc
#endif

/// The trace file: what the collector stores for one process and `report` reads back. Documented in
/// docs/TRACE_FORMAT.md.
///
///     magic   8 bytes  "LKTRACE\0"
///     version u32 LE
///     sections, each: kind u32 LE, length u64 LE, payload
///     the END section (kind 0xFFFF, length 0) — a file without it is truncated
///
/// Unknown section kinds are skipped, so a reader of this version can open files that only add sections.
public enum TraceFile {
    public static let magic: [UInt8] = Array("LKTRACE".utf8) + [0]
    public static let version: UInt32 = 1

    public enum Section: UInt32, CaseIterable {
        case process = 1, modules = 2, frames = 3, stacks = 4, live = 5, summary = 6, samples = 7
        case end = 0xFFFF
    }

    // MARK: encoding

    public static func encode(_ trace: Trace) -> [UInt8] {
        var file = ByteWriter()
        file.append(magic)
        file.fixed32(version)
        func section(_ kind: Section, _ build: (inout ByteWriter) -> Void) {
            var payload = ByteWriter()
            build(&payload)
            file.fixed32(kind.rawValue)
            file.fixed64(UInt64(payload.bytes.count))
            file.append(payload.bytes)
        }
        section(.process) { w in
            let p = trace.process
            w.varint(UInt64(p.pid))
            w.varint(UInt64(p.ppid))
            w.string(p.executable)
            w.varint(p.arguments.count)
            p.arguments.forEach { w.string($0) }
            w.u8(p.forked ? 1 : 0)
            w.varint(p.startTime)
            w.varint(p.durationNanoseconds)
            w.u8(p.complete ? 1 : 0)
            w.optionalVarint(p.exitStatus)
        }
        section(.modules) { w in
            w.varint(trace.modules.count)
            for m in trace.modules {
                w.string(m.path)
                w.blob(m.buildID)
                w.varint(m.bias)
            }
        }
        section(.frames) { w in
            w.varint(trace.frames.count)
            for f in trace.frames {
                w.varint(f.address)
                w.varint(UInt64(f.module.map { $0 + 1 } ?? 0))
                w.varint(f.offset)
                w.varint(f.symbols.count)
                for s in f.symbols {
                    w.string(s.function)
                    w.optionalString(s.file)
                    w.optionalVarint(s.line.map(UInt64.init))
                    w.optionalVarint(s.column.map(UInt64.init))
                    w.u8(s.inlined ? 1 : 0)
                    w.optionalString(s.linkageName)
                }
            }
        }
        section(.stacks) { w in
            w.varint(trace.stacks.count)
            for s in trace.stacks {
                w.varint(s.frames.count)
                s.frames.forEach { w.varint($0) }
                w.varint(s.allocations)
                w.varint(s.allocatedBytes)
                w.varint(s.liveCount)
                w.varint(s.liveBytes)
            }
        }
        section(.live) { w in
            // Sorted by (stack, address) and delta-encoded: live blocks of one call site are close together
            // in the heap and often of one size, so most entries take 3-4 bytes instead of ~10.
            let live = trace.live.sorted { ($0.stack, $0.address) < ($1.stack, $1.address) }
            w.varint(live.count)
            var previous = LiveAllocation(address: 0, size: 0, stack: 0)
            for a in live {
                let sameStack = a.stack == previous.stack
                w.varint(UInt64(a.stack - previous.stack))
                w.varint(sameStack ? a.address - previous.address : a.address)
                w.varint(zigzag(Int64(bitPattern: a.size &- previous.size)))
                previous = a
            }
        }
        section(.summary) { w in
            let t = trace.totals
            for value in [t.allocations, t.frees, t.allocatedBytes, t.peakLiveBytes, t.unknownFrees, t.droppedStackAllocations, t.events] {
                w.varint(value)
            }
            let l = trace.lost
            for value in [l.noStack, l.stacksDropped, l.bootstrapAllocations, l.failedAllocations, l.skippedWords] {
                w.varint(value)
            }
        }
        section(.samples) { w in
            w.varint(trace.samples.count)
            for s in trace.samples {
                w.varint(s.time)
                w.varint(s.residentBytes)
                w.varint(s.virtualBytes)
                w.varint(s.heapBytes)
            }
        }
        file.fixed32(Section.end.rawValue)
        file.fixed64(0)
        return file.bytes
    }

    // MARK: decoding

    /// True if the bytes start like a trace file.
    public static func looksLikeTrace(_ bytes: [UInt8]) -> Bool {
        bytes.count >= magic.count && Array(bytes[0..<magic.count]) == magic
    }

    /// The sections of a trace file, checked for framing only.
    public static func sections(_ bytes: [UInt8], name: String) throws -> [(kind: UInt32, range: Range<Int>)] {
        guard !bytes.isEmpty else { throw LeakTrackError.truncated(what: "\(name) (empty file)") }
        guard looksLikeTrace(bytes) else { throw LeakTrackError.notLeakTrackData(path: name) }
        var reader = ByteReader(bytes, name: name, range: magic.count..<bytes.count)
        let found = try reader.fixed32()
        guard found <= version else { throw LeakTrackError.newerFormat(what: name, found: found, supported: version) }
        var result: [(UInt32, Range<Int>)] = []
        while true {
            let kind = try reader.fixed32()
            let length = try reader.fixed64()
            guard length <= UInt64(reader.remaining) else { throw LeakTrackError.truncated(what: name) }
            let start = reader.offset
            result.append((kind, start..<start + Int(length)))
            if kind == Section.end.rawValue { return result }
            reader = ByteReader(bytes, name: name, range: (start + Int(length))..<bytes.count)
        }
    }

    public static func decode(_ bytes: [UInt8], name: String) throws -> Trace {
        var trace = Trace(
            process: ProcessSummary(pid: 0, ppid: 0, executable: "", arguments: [], forked: false, startTime: 0,
                                    durationNanoseconds: 0, complete: false, exitStatus: nil),
            modules: [], frames: [], stacks: [], live: [], totals: Totals(), lost: ShimCounters(), samples: [])
        var seen = Set<UInt32>()
        for (kind, range) in try sections(bytes, name: name) {
            guard let section = Section(rawValue: kind), section != .end else { continue }
            seen.insert(kind)
            var r = ByteReader(bytes, name: name, range: range)
            let limit = range.count
            switch section {
            case .process:
                let pid = UInt32(truncatingIfNeeded: try r.varint())
                let ppid = UInt32(truncatingIfNeeded: try r.varint())
                let executable = try r.string()
                let arguments = try (0..<r.count(limit: limit)).map { _ in try r.string() }
                trace.process = ProcessSummary(
                    pid: pid, ppid: ppid, executable: executable, arguments: arguments, forked: try r.u8() != 0,
                    startTime: try r.varint(), durationNanoseconds: try r.varint(), complete: try r.u8() != 0,
                    exitStatus: try r.optionalVarint())
            case .modules:
                trace.modules = try (0..<r.count(limit: limit)).map { _ in
                    Module(path: try r.string(), buildID: try r.blob(), bias: try r.varint())
                }
            case .frames:
                trace.frames = try (0..<r.count(limit: limit)).map { _ in
                    let address = try r.varint()
                    let module = try r.count(limit: Int(UInt32.max))
                    let offset = try r.varint()
                    let symbols = try (0..<r.count(limit: limit)).map { _ in
                        Symbol(
                            function: try r.string(), file: try r.optionalString(),
                            line: try r.optionalVarint().map { Int(truncatingIfNeeded: $0) },
                            column: try r.optionalVarint().map { Int(truncatingIfNeeded: $0) }, inlined: try r.u8() != 0,
                            linkageName: try r.optionalString())
                    }
                    return Frame(address: address, module: module == 0 ? nil : module - 1, offset: offset, symbols: symbols)
                }
            case .stacks:
                trace.stacks = try (0..<r.count(limit: limit)).map { _ in
                    let frames = try (0..<r.count(limit: limit)).map { _ in try r.count(limit: Int(Int32.max)) }
                    return Stack(
                        frames: frames, allocations: try r.varint(), allocatedBytes: try r.varint(),
                        liveCount: try r.varint(), liveBytes: try r.varint())
                }
            case .live:
                var previous = LiveAllocation(address: 0, size: 0, stack: 0)
                trace.live = try (0..<r.count(limit: limit)).map { _ in
                    let stackDelta = try r.varint()
                    guard stackDelta <= UInt64(UInt32.max - previous.stack) else {
                        throw LeakTrackError.corrupted(what: name, detail: "a live allocation's stack id is out of range")
                    }
                    let stack = previous.stack + UInt32(stackDelta)
                    let address = stackDelta == 0 ? previous.address &+ (try r.varint()) : try r.varint()
                    let size = previous.size &+ UInt64(bitPattern: unzigzag(try r.varint()))
                    previous = LiveAllocation(address: address, size: size, stack: stack)
                    return previous
                }
            case .summary:
                var t = Totals()
                t.allocations = try r.varint()
                t.frees = try r.varint()
                t.allocatedBytes = try r.varint()
                t.peakLiveBytes = try r.varint()
                t.unknownFrees = try r.varint()
                t.droppedStackAllocations = try r.varint()
                t.events = try r.varint()
                trace.totals = t
                trace.lost = ShimCounters(
                    noStack: try r.varint(), stacksDropped: try r.varint(), bootstrapAllocations: try r.varint(),
                    failedAllocations: try r.varint(), skippedWords: try r.varint(), exitStatus: trace.process.exitStatus)
            case .samples:
                trace.samples = try (0..<r.count(limit: limit)).map { _ in
                    MemorySample(time: try r.varint(), residentBytes: try r.varint(), virtualBytes: try r.varint(),
                                 heapBytes: try r.varint())
                }
            case .end:
                break
            }
        }
        for required in [Section.process, .modules, .frames, .stacks, .live, .summary] where !seen.contains(required.rawValue) {
            throw LeakTrackError.corrupted(what: name, detail: "the \(required) section is missing")
        }
        try validate(trace, name: name)
        return trace
    }

    /// Checks that every index points somewhere, so the report can index without trapping.
    private static func validate(_ trace: Trace, name: String) throws {
        func fail(_ detail: String) -> LeakTrackError { .corrupted(what: name, detail: detail) }
        for frame in trace.frames {
            if let module = frame.module, module >= trace.modules.count { throw fail("a frame names module \(module)") }
        }
        for stack in trace.stacks {
            for frame in stack.frames where frame >= trace.frames.count { throw fail("a stack names frame \(frame)") }
        }
        for allocation in trace.live
        where allocation.stack != SpecialStack.dropped && Int(allocation.stack) >= trace.stacks.count {
            throw fail("an allocation names stack \(allocation.stack)")
        }
    }

    // MARK: files

    public static func read(path: String) throws -> Trace {
        try decode(try InputFile(path: path, kind: .trace).readAll(), name: path)
    }

    /// Writes the trace to `path` atomically (complete or not at all), never following a symlink. An existing
    /// file at `path` is replaced only when `replacing` is set; otherwise the write fails with
    /// `LeakTrackError.exists` and the file is left as it was.
    public static func write(_ trace: Trace, to path: String, replacing: Bool = false) throws {
        try writeFileAtomically(encode(trace), to: path, replacing: replacing)
    }
}

func zigzag(_ value: Int64) -> UInt64 { UInt64(bitPattern: (value << 1) ^ (value >> 63)) }
func unzigzag(_ value: UInt64) -> Int64 { Int64(bitPattern: value >> 1) ^ -Int64(bitPattern: value & 1) }

/// Writes `bytes` to a temporary file beside `path`, then puts it in place: with `rename` when replacing is
/// allowed, else with `link`, which fails rather than replace an existing file (or symlink) at `path`.
public func writeFileAtomically(_ bytes: [UInt8], to path: String, replacing: Bool = false) throws {
    let temporary = path + ".tmp\(getpid())"
    let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o644)
    guard fd >= 0 else { throw LeakTrackError.file(path: temporary, operation: "create", errno: errno) }
    var written = 0
    while written < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
        if n < 0 {
            if errno == EINTR { continue }
            let code = errno
            close(fd)
            unlink(temporary)
            throw LeakTrackError.file(path: path, operation: "write", errno: code)
        }
        written += n
    }
    if fsync(fd) != 0 && errno != EINVAL {
        let code = errno
        close(fd)
        unlink(temporary)
        throw LeakTrackError.file(path: path, operation: "write", errno: code)
    }
    close(fd)
    defer { unlink(temporary) }
    if replacing {
        guard rename(temporary, path) == 0 else {
            throw LeakTrackError.file(path: path, operation: "rename into place", errno: errno)
        }
        return
    }
    if link(temporary, path) == 0 { return }
    let code = errno
    if code == EEXIST { throw LeakTrackError.exists(path: path) }
    // Filesystems without hard links: reserve the name exclusively, then rename over the reservation.
    guard code == EPERM || code == EOPNOTSUPP || code == EMLINK || code == ENOSYS else {
        throw LeakTrackError.file(path: path, operation: "create", errno: code)
    }
    let reservation = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o644)
    guard reservation >= 0 else {
        if errno == EEXIST { throw LeakTrackError.exists(path: path) }
        throw LeakTrackError.file(path: path, operation: "create", errno: errno)
    }
    close(reservation)
    guard rename(temporary, path) == 0 else {
        let renameCode = errno
        unlink(path)
        throw LeakTrackError.file(path: path, operation: "rename into place", errno: renameCode)
    }
}
