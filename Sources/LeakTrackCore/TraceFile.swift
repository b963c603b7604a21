import CLeakTrackWire

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
    /// The newest version this reader reads. 2: sampled traces (the sampling section); a trace that is not
    /// sampled is still written as 1, which every reader reads.
    public static let version: UInt32 = 2

    public enum Section: UInt32, CaseIterable {
        case process = 1, modules = 2, frames = 3, stacks = 4, live = 5, summary = 6, samples = 7
        /// The stacks the shim cut at LEAKTRACK_DEPTH (only written when there are any; older readers skip it).
        case truncatedStacks = 8
        /// Why frames are unsymbolized (only written when symbolization was incomplete; older readers skip it).
        case symbolization = 9
        /// The memory series with every counter (replaces `samples`, which older files have instead).
        case memory = 10
        /// The snapshots taken while the process ran, the last being this trace itself.
        case snapshots = 11
        /// When each live allocation was made and by which thread, in the live section's order.
        case liveDetails = 12
        /// The threads that allocated.
        case threads = 13
        /// A sampled trace's mean bytes between samples and its sample count (only in sampled traces, which are
        /// version 2: a reader of 1 would take their estimates for exact figures).
        case sampling = 14
        case end = 0xFFFF
    }

    // MARK: encoding

    /// Appends one section: its kind, its payload's length, and the payload `build` writes.
    public static func appendSection(_ kind: Section, to file: inout ByteWriter, _ build: (inout ByteWriter) -> Void) {
        var payload = ByteWriter()
        build(&payload)
        file.fixed32(kind.rawValue)
        file.fixed64(UInt64(payload.bytes.count))
        file.append(payload.bytes)
    }

    /// The live section, a few bytes per live allocation, is the bulk of a large trace: it is sized first and
    /// written straight into the result, which is allocated once at its exact size (no growth doubling, no
    /// payload copy). The other sections are small and go through a ByteWriter each.
    public static func encode(_ trace: Trace) -> [UInt8] {
        var file = ByteWriter()
        file.append(magic)
        file.fixed32(trace.sampling == nil ? 1 : 2)
        var afterLive = ByteWriter()
        // Sorted by (stack, address), as Session.makeTrace leaves them (else sorted here), and delta-encoded:
        // live blocks of one call site are close together in the heap and often of one size, so most
        // entries take 3-4 bytes instead of ~10.
        let live =
            isInLiveOrder(trace.live)
            ? trace.live : trace.live.sorted { ($0.stack, $0.address) < ($1.stack, $1.address) }
        func section(_ kind: Section, into file: inout ByteWriter, _ build: (inout ByteWriter) -> Void) {
            appendSection(kind, to: &file, build)
        }
        func section(_ kind: Section, _ build: (inout ByteWriter) -> Void) { appendSection(kind, to: &file, build) }
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
        section(.summary, into: &afterLive) { w in
            let t = trace.totals
            for value in [
                t.allocations, t.frees, t.allocatedBytes, t.peakLiveBytes, t.unknownFrees, t.droppedStackAllocations,
                t.events,
            ] {
                w.varint(value)
            }
            let l = trace.lost
            for value in [l.noStack, l.stacksDropped, l.bootstrapAllocations, l.failedAllocations, l.skippedWords] {
                w.varint(value)
            }
        }
        let truncated = trace.stacks.indices.filter { trace.stacks[$0].truncated }
        if !truncated.isEmpty {
            section(.truncatedStacks, into: &afterLive) { w in
                w.varint(truncated.count)
                var previous = 0
                for index in truncated {
                    w.varint(index - previous)
                    previous = index
                }
            }
        }
        if let note = trace.symbolization {
            section(.symbolization, into: &afterLive) { w in
                w.varint(note.requested)
                w.varint(note.unanswered)
                w.string(note.reason)
            }
        }
        section(.memory, into: &afterLive) { w in
            w.varint(trace.samples.count)
            for s in trace.samples {
                for value in [
                    s.time, s.residentBytes, s.privateBytes, s.virtualBytes, s.heapBytes, s.heapCount, s.availableBytes,
                ] {
                    w.varint(value)
                }
            }
        }
        if !trace.snapshots.isEmpty {
            section(.snapshots, into: &afterLive) { w in
                w.varint(trace.snapshots.count)
                for snapshot in trace.snapshots {
                    w.varint(snapshot.index)
                    w.varint(snapshot.time)
                    w.string(snapshot.trigger)
                    for value in [
                        snapshot.residentBytes, snapshot.privateBytes, snapshot.virtualBytes, snapshot.heapBytes,
                        snapshot.heapCount, snapshot.allocations,
                    ] {
                        w.varint(value)
                    }
                    w.varint(snapshot.stacks.count)
                    var previous: UInt32 = 0
                    for amount in snapshot.stacks {
                        w.varint(UInt64(amount.stack - previous))
                        w.varint(amount.count)
                        w.varint(amount.bytes)
                        previous = amount.stack
                    }
                }
            }
        }
        if live.contains(where: { $0.stamp != 0 || $0.thread != 0 }) {
            section(.liveDetails, into: &afterLive) { w in
                w.varint(live.count)
                for allocation in live {
                    w.varint(UInt64(allocation.stamp))
                    w.varint(UInt64(allocation.thread))
                }
            }
        }
        if !trace.threads.isEmpty {
            section(.threads, into: &afterLive) { w in
                w.varint(trace.threads.count)
                for thread in trace.threads {
                    w.varint(UInt64(thread.ordinal))
                    w.varint(UInt64(thread.tid))
                    w.string(thread.name)
                }
            }
        }
        if let sampling = trace.sampling {
            section(.sampling, into: &afterLive) { w in
                w.varint(sampling.meanBytes)
                w.varint(sampling.samples)
                w.varint(sampling.refused)
            }
        }
        afterLive.fixed32(Section.end.rawValue)
        afterLive.fixed64(0)
        var liveLength = 0
        forEachLiveVarint(live) { liveLength += varintLength($0) }
        let total = file.bytes.count + 12 + liveLength + afterLive.bytes.count
        return [UInt8](unsafeUninitializedCapacity: total) { out, initialized in
            var o = 0
            func put(_ bytes: some Collection<UInt8>) {
                o += UnsafeMutableBufferPointer(rebasing: out[o...]).initialize(fromContentsOf: bytes)
            }
            func putFixed<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { put($0) } }
            put(file.bytes)
            putFixed(Section.live.rawValue)
            putFixed(UInt64(liveLength))
            forEachLiveVarint(live) { value in
                var v = value
                while v >= 0x80 {
                    out[o] = UInt8(truncatingIfNeeded: v) | 0x80
                    o += 1
                    v >>= 7
                }
                out[o] = UInt8(v)
                o += 1
            }
            put(afterLive.bytes)
            precondition(o == total, "the live section came out at a size other than measured")
            initialized = total
        }
    }

    /// True if `live` is sorted by (stack, address).
    private static func isInLiveOrder(_ live: [LiveAllocation]) -> Bool {
        live.withUnsafeBufferPointer { b in
            for i in b.indices.dropFirst() {
                let (before, a) = (b[i - 1], b[i])
                if (a.stack, a.address) < (before.stack, before.address) { return false }
            }
            return true
        }
    }

    /// The live section's payload as a sequence of varints, `live` sorted by (stack, address).
    @inline(__always)
    private static func forEachLiveVarint(_ live: [LiveAllocation], _ body: (UInt64) -> Void) {
        body(UInt64(live.count))
        live.withUnsafeBufferPointer { live in
            var previous = LiveAllocation(address: 0, size: 0, stack: 0)
            for a in live {
                let sameStack = a.stack == previous.stack
                body(UInt64(a.stack - previous.stack))
                body(sameStack ? a.address - previous.address : a.address)
                body(zigzag(Int64(bitPattern: a.size &- previous.size)))
                previous = a
            }
        }
    }

    @inline(__always)
    private static func varintLength(_ value: UInt64) -> Int { (64 - (value | 1).leadingZeroBitCount + 6) / 7 }

    // MARK: decoding

    /// The most a trace can hold where there is a natural bound: what the shim and the collector produce.
    /// More is damage, and refusing it bounds what a file can make the reader allocate. Every other count is
    /// bounded by the bytes left in its section.
    public enum Limits {
        /// Frames per stack: the shim's deepest capture (LT_MAX_DEPTH).
        public static let framesPerStack = Int(LT_MAX_DEPTH)
        /// Bytes of a module's or the executable's path (LT_MAX_PATH).
        public static let path = Int(LT_MAX_PATH)
        /// Bytes of a GNU build id (LT_MAX_BUILD_ID).
        public static let buildID = Int(LT_MAX_BUILD_ID)
        /// Bytes of the command line, its arguments separated by NUL (LT_MAX_CMDLINE).
        public static let commandLine = Int(LT_MAX_CMDLINE)
        /// Symbols per frame (the inlined functions, then the containing one); the symbolizer keeps no more.
        /// Heavily templated C++ (the standard containers, algorithms and regex at -O3) inlines at most 20 deep.
        public static let symbolsPerFrame = 64
        /// Bytes of a function name, linkage name or source file name; the symbolizer cuts longer ones.
        public static let name = 64 << 10
        /// Line and column numbers are 32-bit in DWARF.
        public static let line = UInt64(UInt32.max)
        /// Bytes of one live allocation: no allocator returns more than PTRDIFF_MAX.
        public static let allocationSize = UInt64(Int64.max)

        /// `text` cut to at most `limit` (`Limits.name`) bytes, at a character boundary: what the symbolizer
        /// and the stream decoder store.
        public static func fitted(_ text: String, bytes limit: Int = name) -> String {
            let utf8 = text.utf8
            guard utf8.count > limit else { return text }
            var end = utf8.index(utf8.startIndex, offsetBy: limit)
            // Back off UTF-8 continuation bytes (10xxxxxx) so no character is cut in two.
            while end > utf8.startIndex, utf8[end] & 0xC0 == 0x80 { end = utf8.index(before: end) }
            return String(decoding: Array(utf8[..<end]), as: UTF8.self)
        }
    }

    /// One piece of a trace, in file order, as `scan` hands them out. Indexes count from 0 per section.
    public enum Item {
        /// A section with this many entries begins (a consumer may reserve room for them).
        case count(Section, Int)
        case process(ProcessSummary)
        case module(Int, Module)
        case frame(Int, Frame)
        case stack(Int, Stack)
        case live(LiveAllocation)
        case summary(Totals, ShimCounters)
        case sample(MemorySample)
        /// The stack with this index was cut at the shim's depth limit (this comes after the stacks).
        case truncatedStack(Int)
        /// Symbolization was incomplete.
        case symbolization(SymbolizationNote)
        case snapshot(SnapshotSummary)
        /// The live allocation with this index (in file order) was made at `stamp` by `thread`.
        case liveDetail(Int, stamp: UInt32, thread: UInt16)
        case thread(ThreadInfo)
        case sampling(Sampling)
    }

    /// True if the bytes start like a trace file.
    public static func looksLikeTrace(_ bytes: [UInt8]) -> Bool {
        bytes.count >= magic.count && Array(bytes[0..<magic.count]) == magic
    }

    public static func decode(_ bytes: [UInt8], name: String) throws -> Trace {
        var reader = ByteReader(bytes, name: name)
        return try decode(&reader)
    }

    /// Decodes a whole trace into memory.
    public static func decode(_ reader: inout ByteReader) throws -> Trace {
        var trace = Trace(
            process: ProcessSummary(
                pid: 0, ppid: 0, executable: "", arguments: [], forked: false, startTime: 0,
                durationNanoseconds: 0, complete: false, exitStatus: nil),
            modules: [], frames: [], stacks: [], live: [], totals: Totals(), lost: ShimCounters(), samples: [])
        try scan(&reader) { item in
            switch item {
            case .count(.modules, let count): trace.modules.reserveCapacity(count)
            case .count(.frames, let count): trace.frames.reserveCapacity(count)
            case .count(.stacks, let count): trace.stacks.reserveCapacity(count)
            case .count(.live, let count): trace.live.reserveCapacity(count)
            case .count(.samples, let count): trace.samples.reserveCapacity(count)
            case .count: break
            case .process(let process): trace.process = process
            case .module(_, let module): trace.modules.append(module)
            case .frame(_, let frame): trace.frames.append(frame)
            case .stack(_, let stack): trace.stacks.append(stack)
            case .live(let allocation): trace.live.append(allocation)
            case .summary(let totals, let lost):
                trace.totals = totals
                trace.lost = lost
            case .sample(let sample): trace.samples.append(sample)
            case .truncatedStack(let index): trace.stacks[index].truncated = true
            case .symbolization(let note): trace.symbolization = note
            case .snapshot(let snapshot): trace.snapshots.append(snapshot)
            case .liveDetail(let index, let stamp, let thread):
                trace.live[index].stamp = stamp
                trace.live[index].thread = thread
            case .thread(let thread): trace.threads.append(thread)
            case .sampling(let sampling): trace.sampling = sampling
            }
        }
        return trace
    }

    /// Reads a trace entry by entry, without holding it: `handle` gets each piece as it is decoded. Every
    /// value is checked as it is read (counts against the bytes left, indexes against the entries before
    /// them, sizes and sums for overflow), so a damaged file is a `LeakTrackError` that says what is wrong,
    /// never a crash and never an allocation the file's size does not warrant.
    public static func scan(_ reader: inout ByteReader, _ handle: (Item) throws -> Void) throws {
        let name = reader.name
        func fail(_ detail: String) -> LeakTrackError { .corrupted(what: name, detail: detail) }
        guard reader.size > 0 else { throw LeakTrackError.truncated(what: "\(name) (empty file)") }
        guard reader.size >= UInt64(magic.count), Array(try reader.bytes(magic.count)) == magic else {
            throw LeakTrackError.notLeakTrackData(path: name)
        }
        let found = try reader.fixed32()
        guard found <= version else { throw LeakTrackError.newerFormat(what: name, found: found, supported: version) }
        var state = ScanState()
        while true {
            reader.setLimit(reader.size)
            let kind = try reader.fixed32()
            let length = try reader.fixed64()
            guard length <= reader.remaining else { throw LeakTrackError.truncated(what: name) }
            let end = reader.offset + length
            if kind == Section.end.rawValue {
                guard length == 0 else { throw fail("the end section has \(length) bytes instead of none") }
                break
            }
            // Sections of later versions are skipped.
            guard let section = Section(rawValue: kind) else {
                try reader.skip(to: end)
                continue
            }
            // Known sections come in the order of their kinds, each once: what a section refers to is before it.
            if let last = state.last, section.rawValue <= last.rawValue {
                throw fail(
                    section == last
                        ? "the \(section) section appears twice"
                        : "the \(section) section comes after the \(last) section")
            }
            state.last = section
            reader.setLimit(end)
            try scanSection(section, &reader, &state, handle)
            guard reader.isAtLimit else {
                throw fail("the \(section) section has \(reader.remaining) bytes after its last entry")
            }
            state.seen.insert(section)
        }
        for required in [Section.process, .modules, .frames, .stacks, .live, .summary]
        where !state.seen.contains(required) {
            throw fail("the \(required) section is missing")
        }
        // Version 2 means sampled: without its sampling section the estimates would read as exact figures.
        if found >= 2 && !state.seen.contains(.sampling) {
            throw fail("the sampling section of a version 2 trace is missing")
        }
    }

    /// What the sections read so far said, for checking the ones after them.
    private struct ScanState {
        var last: Section?
        var seen = Set<Section>()
        var modules = 0, frames = 0, stacks = 0, live = 0
        var exitStatus: UInt64?
    }

    private static func scanSection(
        _ section: Section, _ r: inout ByteReader, _ state: inout ScanState, _ handle: (Item) throws -> Void
    ) throws {
        func fail(_ detail: String) -> LeakTrackError { .corrupted(what: r.name, detail: detail) }
        switch section {
        case .process:
            let pid = UInt32(try r.bounded("the process id", max: UInt64(UInt32.max)))
            let ppid = UInt32(try r.bounded("the parent process id", max: UInt64(UInt32.max)))
            let executable = try r.string("the executable's path", maximum: Limits.path)
            let count = try r.count(
                of: "arguments", entrySize: 1, maximum: Limits.commandLine + 1,
                why: "a command line of \(Limits.commandLine) bytes can hold")
            var arguments: [String] = []
            arguments.reserveCapacity(count)
            var commandLine = 0
            for _ in 0..<count {
                let length = Int(try r.bounded("the length of an argument", max: UInt64(Limits.commandLine)))
                // The shim's command line is the arguments, each followed by a NUL but the last.
                commandLine += length + 1
                guard commandLine <= Limits.commandLine + 1 else {
                    throw fail("the arguments take more than the \(Limits.commandLine) bytes of a command line")
                }
                arguments.append(String(decoding: try r.bytes(length), as: UTF8.self))
            }
            let forked = try r.bool("the forked flag")
            let startTime = try r.varint()
            let duration = try r.varint()
            let complete = try r.bool("the complete flag")
            state.exitStatus = try r.optionalVarint("the exit status")
            try handle(
                .process(
                    ProcessSummary(
                        pid: pid, ppid: ppid, executable: executable, arguments: arguments, forked: forked,
                        startTime: startTime,
                        durationNanoseconds: duration, complete: complete, exitStatus: state.exitStatus)))
        case .modules:
            let count = try r.count(of: "modules", entrySize: 3)
            try handle(.count(.modules, count))
            for index in 0..<count {
                let path = try r.string("a module's path", maximum: Limits.path)
                let buildID = try r.blob("a build id", maximum: Limits.buildID)
                try handle(.module(index, Module(path: path, buildID: buildID, bias: try r.varint())))
            }
            state.modules = count
        case .frames:
            let count = try r.count(of: "frames", entrySize: 4)
            try handle(.count(.frames, count))
            for index in 0..<count {
                let address = try r.varint()
                // The module's index + 1; 0 for an address outside every module.
                let module = try r.varint()
                guard module <= UInt64(state.modules) else {
                    throw fail("a frame names module \(module - 1), but the trace has \(state.modules) modules")
                }
                let offset = try r.varint()
                let symbolCount = try r.count(of: "symbols in a frame", entrySize: 6, maximum: Limits.symbolsPerFrame)
                var symbols: [Symbol] = []
                symbols.reserveCapacity(symbolCount)
                for _ in 0..<symbolCount {
                    symbols.append(
                        Symbol(
                            function: try r.string("a function name", maximum: Limits.name),
                            file: try r.optionalString("a source file name", maximum: Limits.name),
                            line: try r.optionalVarint("a line number", maximum: Limits.line).map { Int($0) },
                            column: try r.optionalVarint("a column number", maximum: Limits.line).map { Int($0) },
                            inlined: try r.bool("the inlined flag"),
                            linkageName: try r.optionalString("a linkage name", maximum: Limits.name)))
                }
                let frame = Frame(
                    address: address, module: module == 0 ? nil : Int(module - 1), offset: offset, symbols: symbols)
                try handle(.frame(index, frame))
            }
            state.frames = count
        case .stacks:
            // Stack ids are 32-bit, and 0xFFFFFFFF means "no stack recorded".
            let count = try r.count(
                of: "stacks", entrySize: 5, maximum: Int(SpecialStack.dropped),
                why: "32-bit stack ids allow")
            try handle(.count(.stacks, count))
            for index in 0..<count {
                let depth = try r.count(
                    of: "frames in a stack", entrySize: 1, maximum: Limits.framesPerStack,
                    why: "the shim's deepest stack (\(Limits.framesPerStack))")
                var frames: [Int] = []
                frames.reserveCapacity(depth)
                for _ in 0..<depth {
                    let frame = try r.varint()
                    guard frame < UInt64(state.frames) else {
                        throw fail("a stack names frame \(frame), but the trace has \(state.frames) frames")
                    }
                    frames.append(Int(frame))
                }
                try handle(
                    .stack(
                        index,
                        Stack(
                            frames: frames, allocations: try r.varint(), allocatedBytes: try r.varint(),
                            liveCount: try r.varint(), liveBytes: try r.varint())))
            }
            state.stacks = count
        case .live:
            let count = try r.count(of: "live allocations", entrySize: 3)
            try handle(.count(.live, count))
            var previous = LiveAllocation(address: 0, size: 0, stack: 0)
            var total: UInt64 = 0
            for _ in 0..<count {
                // Sorted by (stack, address) and delta-encoded (see encode).
                let stackDelta = try r.varint()
                guard stackDelta <= UInt64(UInt32.max - previous.stack) else {
                    throw fail("a live allocation's stack id is out of range")
                }
                let stack = previous.stack + UInt32(stackDelta)
                guard stack == SpecialStack.dropped || Int(stack) < state.stacks else {
                    throw fail("an allocation names stack \(stack), but the trace has \(state.stacks) stacks")
                }
                var address = try r.varint()
                if stackDelta == 0 {
                    let (sum, overflow) = previous.address.addingReportingOverflow(address)
                    guard !overflow else { throw fail("a live allocation's address is beyond 64 bits") }
                    address = sum
                }
                // As encoded: the difference wraps; any size beyond 2^63 - 1 (a "negative" one too) is damage.
                let size = previous.size &+ UInt64(bitPattern: unzigzag(try r.varint()))
                guard size <= Limits.allocationSize else {
                    throw fail("a live allocation's size is \(size) bytes, more than any allocator returns (2^63 - 1)")
                }
                guard !address.addingReportingOverflow(size).overflow else {
                    throw fail(
                        "a live allocation of \(size) bytes at 0x\(String(address, radix: 16)) runs past the end of the address space"
                    )
                }
                let (sum, tooMuch) = total.addingReportingOverflow(size)
                guard !tooMuch else { throw fail("the live allocations add up to more than 2^64 bytes") }
                total = sum
                previous = LiveAllocation(address: address, size: size, stack: stack)
                try handle(.live(previous))
            }
            state.live = count
        case .summary:
            var t = Totals()
            t.allocations = try r.varint()
            t.frees = try r.varint()
            t.allocatedBytes = try r.varint()
            t.peakLiveBytes = try r.varint()
            t.unknownFrees = try r.varint()
            t.droppedStackAllocations = try r.varint()
            t.events = try r.varint()
            let lost = ShimCounters(
                noStack: try r.varint(), stacksDropped: try r.varint(), bootstrapAllocations: try r.varint(),
                failedAllocations: try r.varint(), skippedWords: try r.varint(), exitStatus: state.exitStatus)
            try handle(.summary(t, lost))
        case .samples:
            let count = try r.count(of: "memory samples", entrySize: 4)
            try handle(.count(.samples, count))
            for _ in 0..<count {
                try handle(
                    .sample(
                        MemorySample(
                            time: try r.varint(), residentBytes: try r.varint(), virtualBytes: try r.varint(),
                            heapBytes: try r.varint())))
            }
        case .truncatedStacks:
            let count = try r.count(of: "cut stacks", entrySize: 1, maximum: state.stacks, why: "the stacks")
            // Ascending indexes, each as the difference from the one before (the first from 0).
            var previous = 0
            for position in 0..<count {
                let delta = Int(try r.bounded("a cut stack's index", max: UInt64(state.stacks)))
                let index = previous + delta
                guard position == 0 || delta > 0, index < state.stacks else {
                    throw fail("a cut stack's index is out of order or beyond the \(state.stacks) stacks")
                }
                previous = index
                try handle(.truncatedStack(index))
            }
        case .symbolization:
            let requested = Int(try r.bounded("the frames asked for", max: UInt64(state.frames)))
            let unanswered = Int(try r.bounded("the frames left unanswered", max: UInt64(requested)))
            let reason = try r.string("the symbolizer's failure", maximum: Limits.name)
            try handle(.symbolization(SymbolizationNote(requested: requested, unanswered: unanswered, reason: reason)))
        case .memory:
            let count = try r.count(of: "memory samples", entrySize: 7)
            try handle(.count(.samples, count))
            for _ in 0..<count {
                var v: [UInt64] = []
                for _ in 0..<7 { v.append(try r.varint()) }
                try handle(
                    .sample(
                        MemorySample(
                            time: v[0], residentBytes: v[1], virtualBytes: v[3], heapBytes: v[4], privateBytes: v[2],
                            heapCount: v[5], availableBytes: v[6])))
            }
        case .snapshots:
            let count = try r.count(of: "snapshots", entrySize: 11)
            var previousIndex = 0
            for _ in 0..<count {
                let index = Int(try r.bounded("a snapshot's index", max: UInt64(Int32.max)))
                guard index > previousIndex else { throw fail("the snapshots' indexes are out of order") }
                previousIndex = index
                let time = try r.varint()
                let trigger = try r.string("a snapshot's trigger", maximum: Limits.name)
                var values: [UInt64] = []
                for _ in 0..<6 { values.append(try r.varint()) }
                let stackCount = try r.count(
                    of: "a snapshot's stacks", entrySize: 3, maximum: state.stacks, why: "the stacks")
                var stacks: [StackAmount] = []
                stacks.reserveCapacity(stackCount)
                var previous: UInt64 = 0
                for position in 0..<stackCount {
                    let delta = try r.bounded("a snapshot's stack id", max: UInt64(state.stacks))
                    let id = previous + delta
                    guard position == 0 || delta > 0, id < UInt64(state.stacks) else {
                        throw fail("a snapshot's stack id is out of order or beyond the \(state.stacks) stacks")
                    }
                    previous = id
                    stacks.append(StackAmount(stack: UInt32(id), count: try r.varint(), bytes: try r.varint()))
                }
                try handle(
                    .snapshot(
                        SnapshotSummary(
                            index: index, time: time, trigger: trigger, residentBytes: values[0],
                            privateBytes: values[1], virtualBytes: values[2], heapBytes: values[3],
                            heapCount: values[4], allocations: values[5], stacks: stacks)))
            }
        case .liveDetails:
            let count = Int(try r.bounded("the live allocations' details", max: UInt64(state.live)))
            guard count == state.live else {
                throw fail("the live details cover \(count) allocations, not the \(state.live) live ones")
            }
            for index in 0..<count {
                let stamp = UInt32(try r.bounded("an allocation's time", max: UInt64(UInt32.max)))
                let thread = UInt16(try r.bounded("an allocation's thread", max: UInt64(UInt16.max)))
                try handle(.liveDetail(index, stamp: stamp, thread: thread))
            }
        case .threads:
            let count = try r.count(of: "threads", entrySize: 3)
            for _ in 0..<count {
                let ordinal = UInt32(try r.bounded("a thread's ordinal", max: UInt64(UInt16.max)))
                let tid = UInt32(try r.bounded("a thread id", max: UInt64(UInt32.max)))
                let name = try r.string("a thread's name", maximum: 256)
                try handle(.thread(ThreadInfo(ordinal: ordinal, tid: tid, name: name)))
            }
        case .sampling:
            let mean = try r.bounded("the mean bytes between samples", max: Sampling.maxMeanBytes)
            guard mean > 0 else { throw fail("the sampling section says 0 bytes between samples") }
            let samples = try r.bounded("the sample count", max: UInt64.max)
            let refused = try r.bounded("the samples refused", max: UInt64.max)
            try handle(.sampling(Sampling(meanBytes: mean, samples: samples, refused: refused)))
        case .end:
            break
        }
    }

    // MARK: files

    /// Reads and decodes a trace file, in windows: the file is never held whole next to the trace.
    public static func read(path: String) throws -> Trace {
        var reader = ByteReader(file: try InputFile(path: path, kind: .trace))
        return try decode(&reader)
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
