#if canImport(Glibc)
    import Glibc
#endif

/// What to resolve: one address in one module file.
public struct SymbolRequest: Hashable, Sendable {
    public var modulePath: String
    public var buildID: [UInt8]
    /// The ELF virtual address to look up (already adjusted to point into the call instruction).
    public var address: UInt64

    public init(modulePath: String, buildID: [UInt8], address: UInt64) {
        self.modulePath = modulePath
        self.buildID = buildID
        self.address = address
    }
}

/// Turns addresses into functions and source lines. The collector uses llvm-symbolizer; tests use a fake.
public protocol Symbolizer {
    /// Returns one symbol list (innermost first, empty if unknown) per request, in order.
    func symbolize(_ requests: [SymbolRequest]) throws -> [[Symbol]]
}

/// One traced process's stream applied in order: modules, stacks, the live allocations and the counters.
/// Feed it records with `apply`, then call `makeTrace` at the end.
public final class Session {
    public private(set) var hello: Hello?
    public private(set) var counters: ShimCounters?
    public private(set) var totals = Totals()
    public let live = LiveTable()
    /// Nanoseconds since the stream began, as the reader last set it (`advanceClock`) or a TICK said: new
    /// allocations are stamped with it.
    public private(set) var clock: UInt64 = 0
    private var stamp: UInt32 = 0
    /// The memory samples so far (bounded, see MemorySeries).
    public private(set) var memory = MemorySeries()
    /// Snapshots taken so far, oldest first.
    public private(set) var snapshots: [SnapshotSummary] = []
    private var snapshotsTaken = 0
    /// Threads named by THREAD records, by ordinal.
    public private(set) var threads: [ThreadInfo] = []
    private var threadIndex: [UInt32: Int] = [:]

    private var modules: [Module] = []
    private var moduleIndex: [ModuleKey: Int] = [:]
    private var snapshot: [LoadedModule] = []
    private var segmentMap: [(range: Range<UInt64>, module: Int)] = []

    private var frames: [Frame] = []
    private var frameIndex: [FrameKey: Int] = [:]
    /// Frame indexes by stack id; empty for ids whose STACK record has not arrived (yet). Index 0 is the
    /// "made inside the shim" pseudo stack.
    private var stackFrames: [[Int]] = [[]]
    /// Ids of the stacks the shim cut at LEAKTRACK_DEPTH.
    private var truncatedStacks = Set<Int>()
    private let stackCounters = StackCounters()
    /// Blocks between REALLOC_BEGIN and REALLOC_END, by the tag of the BEGIN record.
    private var reallocsInFlight: [UInt64: (ptr: UInt64, entry: LiveTable.Entry)] = [:]
    public private(set) var liveBytes: UInt64 = 0
    /// A sampled stream's estimates (HELLO's sampleBytes), nil for an exact one.
    private var estimates: SampledCounters?
    private var skippedWords: UInt64 = 0

    private struct ModuleKey: Hashable {
        var path: String
        var bias: UInt64
        var buildID: [UInt8]
    }

    private struct FrameKey: Hashable {
        var module: Int
        var offset: UInt64
    }

    public init() {}

    /// Stack ids are dense and a STACK record can trail the first allocation that uses its id by a few
    /// records only (the shim publishes the id before it writes the stack). An id further ahead than this
    /// is damage, not data: it must not make us allocate an array for it.
    static let maxStackIdLead = 1 << 16

    // MARK: applying records

    /// Applies one record. Throws `LeakTrackError.corrupted` for a record that cannot belong to a sane
    /// stream (a stack id far beyond any defined one).
    public func apply(_ record: WireRecord) throws {
        totals.events += 1
        switch record {
        case .hello(let hello):
            self.hello = hello
            if hello.sampleBytes != 0 { estimates = SampledCounters(meanBytes: hello.sampleBytes) }
        case .modulesBegin:
            snapshot = []
        case .module(let module):
            snapshot.append(module)
        case .modulesEnd:
            installSnapshot()
        case .stack(let id, let addresses, let truncated):
            try checkStackId(id)
            defineStack(id: id, addresses: addresses)
            if truncated { truncatedStacks.insert(Int(id)) }
        case .alloc(let ptr, let size, let stack, let kind, let thread):
            try alloc(ptr: ptr, size: size, stack: stack, kind: kind, thread: thread)
        case .free(let ptr):
            free(ptr: ptr)
        case .reallocBegin(let ptr, let tag):
            if let entry = live.remove(ptr) { reallocsInFlight[tag] = (ptr, entry) }
        case .reallocEnd(let beginTag, let newPtr, let size, let stack, let failed, _, let thread):
            try checkStackId(stack)
            let old = reallocsInFlight.removeValue(forKey: beginTag)
            if failed {
                // Nothing happened to the old block: it is live again, unchanged.
                if let old {
                    live.insert(
                        old.ptr, size: old.entry.size, stack: old.entry.stack, stamp: old.entry.stamp,
                        thread: old.entry.thread)
                }
            } else {
                if let old { release(old.entry) }
                if newPtr != 0 {
                    try checkBlock(newPtr, size: size)
                    allocate(newPtr, size: size, stack: stack, thread: thread)
                }
            }
        case .tick(let tick):
            let start = hello?.monotonicNanoseconds ?? tick.monotonicNanoseconds
            let time = tick.monotonicNanoseconds &- start
            advanceClock(to: time)
            memory.append(
                MemorySample(
                    time: time, residentBytes: tick.residentBytes, virtualBytes: tick.virtualBytes,
                    heapBytes: heap.bytes, heapCount: heap.count))
        case .skip(_, let words):
            skippedWords &+= words
        case .final(let counters):
            self.counters = counters
        case .thread(let ordinal, let tid, let name):
            // Ordinals are 16 bits on the wire; a repeated one (a damaged stream) names its thread again.
            if let known = threadIndex[ordinal] {
                threads[known] = ThreadInfo(ordinal: ordinal, tid: tid, name: name)
            } else {
                threadIndex[ordinal] = threads.count
                threads.append(ThreadInfo(ordinal: ordinal, tid: tid, name: name))
            }
        }
    }

    /// ALLOC, straight from the decoder.
    public func alloc(ptr: UInt64, size: UInt64, stack: UInt32, kind: AllocKind, thread: UInt16) throws {
        totals.events += 1
        try checkStackId(stack)
        try checkBlock(ptr, size: size)
        allocate(ptr, size: size, stack: stack, thread: thread)
    }

    /// What no shim sends, and the live table or the trace cannot hold: a block at address 0 (the table's
    /// empty-slot marker), larger than any allocator returns, running past the end of the address space, or
    /// making the live blocks add up to more than 2^64 bytes (the trace reader refuses all of these). A
    /// traced process, or a saved stream, that says so is damaged.
    @inline(__always)
    private func checkBlock(_ ptr: UInt64, size: UInt64) throws {
        guard
            ptr == 0 || size > TraceFile.Limits.allocationSize || ptr.addingReportingOverflow(size).overflow
                || liveBytes.addingReportingOverflow(size).overflow
        else { return }
        let detail: String
        if ptr == 0 {
            detail = "an allocation at address 0"
        } else if size > TraceFile.Limits.allocationSize {
            detail = "an allocation of \(size) bytes, more than any allocator returns"
        } else if ptr.addingReportingOverflow(size).overflow {
            detail =
                "an allocation of \(size) bytes at 0x\(String(ptr, radix: 16)) runs past the end of the address space"
        } else {
            detail = "the live allocations add up to more than 2^64 bytes"
        }
        throw LeakTrackError.corrupted(
            what: hello.map { "the stream from pid \($0.pid)" } ?? "the stream", detail: detail)
    }

    /// FREE, straight from the decoder.
    public func free(ptr: UInt64) {
        totals.events += 1
        if let entry = live.remove(ptr) {
            release(entry)
        } else {
            totals.unknownFrees += 1
        }
    }

    private func allocate(_ ptr: UInt64, size: UInt64, stack: UInt32, thread: UInt16) {
        totals.allocations += 1
        totals.allocatedBytes &+= size
        if let replaced = live.insert(ptr, size: size, stack: stack, stamp: stamp, thread: thread) {
            // The address was live already: its free never reached us (freed through a path the shim does
            // not see). Count the old block as gone.
            release(replaced)
        }
        liveBytes &+= size
        if liveBytes > totals.peakLiveBytes { totals.peakLiveBytes = liveBytes }
        estimates?.allocate(size: size, stack: stack == SpecialStack.dropped ? nil : Int(stack))
        if stack == SpecialStack.dropped {
            totals.droppedStackAllocations += 1
            return
        }
        let index = Int(stack)
        stackCounters.ensure(index)
        stackCounters.allocations[index] += 1
        stackCounters.allocatedBytes[index] &+= size
        stackCounters.liveCount[index] += 1
        stackCounters.liveBytes[index] &+= size
    }

    private func release(_ entry: LiveTable.Entry) {
        totals.frees += 1
        liveBytes &-= entry.size
        estimates?.release(size: entry.size, stack: entry.stack == SpecialStack.dropped ? nil : Int(entry.stack))
        guard entry.stack != SpecialStack.dropped else { return }
        let index = Int(entry.stack)
        stackCounters.liveCount[index] &-= 1
        stackCounters.liveBytes[index] &-= entry.size
    }

    @inline(__always)
    private func checkStackId(_ id: UInt32) throws {
        guard id != SpecialStack.dropped, Int(id) >= stackFrames.count + Session.maxStackIdLead else { return }
        throw LeakTrackError.corrupted(
            what: hello.map { "the stream from pid \($0.pid)" } ?? "the stream",
            detail: "stack id \(id) is far beyond the \(stackFrames.count - 1) stacks defined so far")
    }

    private func installSnapshot() {
        var map: [(range: Range<UInt64>, module: Int)] = []
        for loaded in snapshot {
            let key = ModuleKey(path: loaded.path, bias: loaded.bias, buildID: loaded.buildID)
            let index: Int
            if let known = moduleIndex[key] {
                index = known
            } else {
                index = modules.count
                modules.append(Module(path: loaded.path, buildID: loaded.buildID, bias: loaded.bias))
                moduleIndex[key] = index
            }
            for segment in loaded.segments where !segment.isEmpty { map.append((segment, index)) }
        }
        segmentMap = map.sorted { $0.range.lowerBound < $1.range.lowerBound }
        snapshot = []
    }

    private func module(containing address: UInt64) -> Int? {
        var low = 0, high = segmentMap.count
        while low < high {
            let mid = (low + high) / 2
            if segmentMap[mid].range.lowerBound <= address { low = mid + 1 } else { high = mid }
        }
        guard low > 0, segmentMap[low - 1].range.contains(address) else { return nil }
        return segmentMap[low - 1].module
    }

    private func defineStack(id: UInt32, addresses: [UInt64]) {
        guard id != SpecialStack.none, id != SpecialStack.dropped else { return }
        var indexes: [Int] = []
        indexes.reserveCapacity(addresses.count)
        for address in addresses {
            let module = self.module(containing: address)
            let offset = module.map { address &- modules[$0].bias } ?? address
            let key = FrameKey(module: module ?? -1, offset: offset)
            if let known = frameIndex[key] {
                indexes.append(known)
            } else {
                frameIndex[key] = frames.count
                indexes.append(frames.count)
                frames.append(Frame(address: address, module: module, offset: offset, symbols: []))
            }
        }
        let index = Int(id)
        if index >= stackFrames.count {
            stackFrames.append(contentsOf: repeatElement([], count: index + 1 - stackFrames.count))
        }
        stackFrames[index] = indexes
    }

    // MARK: time, memory and snapshots

    /// Sets the time that new allocations are stamped with (nanoseconds since the stream began); the clock
    /// never goes back.
    public func advanceClock(to time: UInt64) {
        guard time > clock else { return }
        clock = time
        stamp = LiveAllocation.stamp(forNanoseconds: time)
    }

    /// Records one sample of the target's memory, with the heap as the session sees it now; returns it.
    @discardableResult
    public func sampleMemory(
        time: UInt64, residentBytes: UInt64, privateBytes: UInt64, virtualBytes: UInt64, availableBytes: UInt64
    ) -> MemorySample {
        advanceClock(to: time)
        let heap = self.heap
        let sample = MemorySample(
            time: time, residentBytes: residentBytes, virtualBytes: virtualBytes, heapBytes: heap.bytes,
            privateBytes: privateBytes, heapCount: heap.count, availableBytes: availableBytes)
        memory.append(sample)
        return sample
    }

    /// Takes a snapshot now: what every stack holds (one pass over the stacks, not over the blocks) and the
    /// counters of the latest memory sample. It is kept in `snapshots` and returned.
    @discardableResult
    public func takeSnapshot(trigger: String) -> SnapshotSummary {
        var amounts: [StackAmount] = []
        for id in 0..<stackCounters.count where stackCounters.liveCount[id] > 0 {
            let (count, bytes) = liveAmount(ofStack: id)
            amounts.append(StackAmount(stack: UInt32(id), count: count, bytes: bytes))
        }
        let latest = memory.samples.last
        let heap = self.heap
        let snapshot = SnapshotSummary(
            index: snapshotsTaken + 1, time: clock, trigger: trigger, residentBytes: latest?.residentBytes ?? 0,
            privateBytes: latest?.privateBytes ?? 0, virtualBytes: latest?.virtualBytes ?? 0, heapBytes: heap.bytes,
            heapCount: heap.count, allocations: allocationsMade, stacks: amounts)
        snapshots.append(snapshot)
        snapshotsTaken += 1
        // A long run with frequent snapshots keeps a bounded history: past the limit, every other one of the
        // older half goes (the first stays), so the collector's memory does not grow with the run.
        if snapshots.count > Session.maxSnapshots {
            let half = snapshots.count / 2
            snapshots =
                snapshots[..<half].enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
                + snapshots[half...]
        }
        return snapshot
    }

    /// The live heap now: the blocks themselves, or a sampled stream's estimate of them.
    private var heap: (bytes: UInt64, count: UInt64) {
        guard let estimates else { return (liveBytes, UInt64(live.count)) }
        return (UInt64(estimate: estimates.liveBytes), UInt64(estimate: estimates.liveCount))
    }

    /// Allocations made so far (estimated in a sampled stream): what growth per allocation is measured by.
    public var allocationsMade: UInt64 {
        estimates.map { UInt64(estimate: $0.allocations) } ?? totals.allocations
    }

    /// What stack `id` holds now (estimated in a sampled stream).
    private func liveAmount(ofStack id: Int) -> (count: UInt64, bytes: UInt64) {
        guard let estimates else { return (stackCounters.liveCount[id], stackCounters.liveBytes[id]) }
        guard id < estimates.stackLiveCount.count else { return (0, 0) }
        return (UInt64(estimate: estimates.stackLiveCount[id]), UInt64(estimate: estimates.stackLiveBytes[id]))
    }

    /// Snapshot summaries kept (see `takeSnapshot`).
    public static let maxSnapshots = 512

    // MARK: the end

    /// Everything a trace is made of, copied out of the session (the arrays share storage until the session
    /// changes them; the live table is copied, or taken), so the trace can be made on another thread while
    /// the stream goes on.
    public func freeze(releasingLiveTable: Bool = false, endMonotonicNanoseconds: UInt64) -> FrozenSession {
        let copy = releasingLiveTable ? live.take() : live.copy()
        let stackCount = max(stackFrames.count, stackCounters.count)
        var stacks: [Stack] = []
        stacks.reserveCapacity(stackCount)
        for id in 0..<stackCount {
            let frames = id < stackFrames.count ? stackFrames[id] : []
            if let estimates, id < estimates.stackLiveCount.count {
                let (liveCount, liveBytes) = liveAmount(ofStack: id)
                stacks.append(
                    Stack(
                        frames: frames, allocations: UInt64(estimate: estimates.stackAllocations[id]),
                        allocatedBytes: UInt64(estimate: estimates.stackAllocatedBytes[id]), liveCount: liveCount,
                        liveBytes: liveBytes))
            } else if estimates == nil, id < stackCounters.count {
                stacks.append(
                    Stack(
                        frames: frames, allocations: stackCounters.allocations[id],
                        allocatedBytes: stackCounters.allocatedBytes[id],
                        liveCount: stackCounters.liveCount[id], liveBytes: stackCounters.liveBytes[id]))
            } else {
                stacks.append(Stack(frames: frames))
            }
            if truncatedStacks.contains(id) { stacks[id].truncated = true }
        }
        var lost = counters ?? ShimCounters()
        lost.skippedWords = max(lost.skippedWords, skippedWords)
        let hello = self.hello
        let process = ProcessSummary(
            pid: hello?.pid ?? 0, ppid: hello?.ppid ?? 0, executable: hello?.executable ?? "",
            arguments: hello?.arguments ?? [], forked: hello?.forked ?? false,
            startTime: hello?.realtimeNanoseconds ?? 0,
            durationNanoseconds: endMonotonicNanoseconds &- (hello?.monotonicNanoseconds ?? endMonotonicNanoseconds),
            complete: counters != nil, exitStatus: counters?.exitStatus)
        var totals = self.totals
        if let estimates {
            // A sampled trace's totals are estimates; the samples themselves are counted in `sampling`.
            totals.allocations = UInt64(estimate: estimates.allocations)
            totals.frees = UInt64(estimate: estimates.frees)
            totals.allocatedBytes = UInt64(estimate: estimates.allocatedBytes)
            totals.peakLiveBytes = UInt64(estimate: estimates.peakLiveBytes)
        }
        var trace = Trace(
            process: process, modules: modules, frames: frames, stacks: stacks, live: [], totals: totals, lost: lost,
            samples: memory.samples)
        trace.sampling = estimates.map {
            Sampling(meanBytes: $0.sampling.meanBytes, samples: self.totals.allocations, refused: lost.samplesRefused)
        }
        trace.lost.samplesRefused = 0 // the sampling section carries it
        trace.snapshots = snapshots
        trace.threads = threads
        return FrozenSession(trace: trace, live: copy)
    }

    /// Builds the trace. Frames of stacks that still hold live memory are symbolized (`symbolizeLiveFrames`);
    /// `symbolizer` nil leaves them as module + offset (a live snapshot symbolizes later, off the stream).
    /// The trace's live allocations are sorted by stack id, then address (the order the trace file stores).
    /// `releasingLiveTable`: the session is done with; the live table is emptied, its memory turned into the
    /// sorted allocations as it goes (LiveTable.takeSortedAllocations), so the collector's peak is the
    /// larger of the two, not their sum.
    public func makeTrace(symbolizer: Symbolizer?, endMonotonicNanoseconds: UInt64, releasingLiveTable: Bool = false)
        throws -> Trace
    {
        var trace = freeze(releasingLiveTable: releasingLiveTable, endMonotonicNanoseconds: endMonotonicNanoseconds)
            .makeTrace()
        if let symbolizer { trace.symbolizeLiveFrames(with: symbolizer) }
        return trace
    }
}

/// A session's state at one moment (`Session.freeze`), made into a trace wherever it is convenient.
public struct FrozenSession: @unchecked Sendable {
    fileprivate var trace: Trace
    fileprivate let live: LiveTable.Copy

    /// The trace, its live allocations sorted by stack id, then address. Call once.
    public func makeTrace() -> Trace {
        var trace = self.trace
        trace.live = live.sorted()
        return trace
    }
}

extension Trace {
    /// Symbolizes the frames of the stacks that still hold live memory (each distinct frame once), while the
    /// binaries are still there; the other frames stay module + offset. Never fails: what the symbolizer could
    /// not answer (or all of it, when there is no symbolizer) stays unsymbolized and is noted in
    /// `symbolization`, so a report can say so.
    public mutating func symbolizeLiveFrames(with symbolizer: Symbolizer?) {
        var wanted = Set<Int>()
        for stack in stacks where stack.liveCount > 0 { wanted.formUnion(stack.frames) }
        // Stacks that held memory at an earlier snapshot, too: growth is reported for them.
        var earlier = Set<UInt32>()
        for snapshot in snapshots {
            for amount in snapshot.stacks where stacks[safe: amount.stack]?.liveCount == 0 {
                earlier.insert(amount.stack)
            }
        }
        for id in earlier { wanted.formUnion(stacks[Int(id)].frames) }
        let order = wanted.filter { frames[$0].module != nil }.sorted()
        guard !order.isEmpty else { return }
        guard let symbolizer else {
            symbolization = SymbolizationNote(
                requested: order.count, unanswered: order.count,
                reason: "llvm-symbolizer was not found (set LEAKTRACK_SYMBOLIZER, or put the Swift toolchain on PATH)")
            return
        }
        let requests = order.map { index -> SymbolRequest in
            let frame = frames[index]
            let module = modules[frame.module!]
            // Return addresses point after the call; look up the call instruction itself.
            return SymbolRequest(modulePath: module.path, buildID: module.buildID, address: frame.offset &- 1)
        }
        let answers: [[Symbol]]
        do {
            answers = try symbolizer.symbolize(requests)
        } catch let failure as SymbolizerFailure {
            answers = failure.symbols
            symbolization = SymbolizationNote(
                requested: order.count, unanswered: failure.unanswered, reason: failure.reason)
        } catch {
            answers = []
            symbolization = SymbolizationNote(requested: order.count, unanswered: order.count, reason: "\(error)")
        }
        for (index, symbols) in zip(order, answers) { frames[index].symbols = symbols }
    }
}

/// A symbolizer that answered only part of a batch (it could not be started, died or failed midway).
public struct SymbolizerFailure: Error, CustomStringConvertible {
    /// One entry per request, in order; empty for the requests it did not answer.
    public var symbols: [[Symbol]]
    public var unanswered: Int
    public var reason: String

    public init(symbols: [[Symbol]], unanswered: Int, reason: String) {
        self.symbols = symbols
        self.unanswered = unanswered
        self.reason = reason
    }

    public var description: String { reason }
}

/// CLOCK_MONOTONIC in nanoseconds: the clock the shim stamps HELLO and TICK records with.
public func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

extension Session: StreamConsumer {
    public func record(_ record: WireRecord) throws {
        try apply(record)
    }
}

extension Array where Element == Stack {
    /// The stack with this id, nil when there is none (an id read from a file).
    subscript(safe id: UInt32) -> Stack? { Int(id) < count ? self[Int(id)] : nil }
}
