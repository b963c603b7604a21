import CLeakTrackWire

/// How a block was obtained (`enum lt_alloc_kind` in the wire header). The raw values are the header's
/// `LT_KIND_*` (a Swift enum's raw values must be literals; `wireKind` ties each case to its constant, and
/// DecoderTests checks that they agree).
public enum AllocKind: UInt8, Sendable, CaseIterable {
    case malloc = 1, calloc, realloc, reallocarray, posixMemalign, alignedAlloc, memalign, valloc, pvalloc

    /// The header's constant for this kind.
    public var wireKind: lt_alloc_kind {
        switch self {
        case .malloc: return LT_KIND_MALLOC
        case .calloc: return LT_KIND_CALLOC
        case .realloc: return LT_KIND_REALLOC
        case .reallocarray: return LT_KIND_REALLOCARRAY
        case .posixMemalign: return LT_KIND_POSIX_MEMALIGN
        case .alignedAlloc: return LT_KIND_ALIGNED_ALLOC
        case .memalign: return LT_KIND_MEMALIGN
        case .valloc: return LT_KIND_VALLOC
        case .pvalloc: return LT_KIND_PVALLOC
        }
    }

    public var functionName: String {
        switch self {
        case .malloc: return "malloc"
        case .calloc: return "calloc"
        case .realloc: return "realloc"
        case .reallocarray: return "reallocarray"
        case .posixMemalign: return "posix_memalign"
        case .alignedAlloc: return "aligned_alloc"
        case .memalign: return "memalign"
        case .valloc: return "valloc"
        case .pvalloc: return "pvalloc"
        }
    }
}

/// The first record of a stream: who is talking.
public struct Hello: Equatable, Sendable {
    public var version: UInt32
    public var pid: UInt32
    public var ppid: UInt32
    public var forked: Bool
    public var realtimeNanoseconds: UInt64
    public var monotonicNanoseconds: UInt64
    public var maxDepth: UInt32
    public var executable: String
    public var arguments: [String]
    /// The shared ring holds 2^ringLog2 words.
    public var ringLog2: UInt32
    /// Mean bytes between sampled allocations; 0: every allocation is recorded (wire version 4).
    public var sampleBytes: UInt64 = 0

    public init(
        version: UInt32, pid: UInt32, ppid: UInt32, forked: Bool, realtimeNanoseconds: UInt64,
        monotonicNanoseconds: UInt64, maxDepth: UInt32, executable: String, arguments: [String], ringLog2: UInt32 = 0
    ) {
        self.version = version
        self.pid = pid
        self.ppid = ppid
        self.forked = forked
        self.realtimeNanoseconds = realtimeNanoseconds
        self.monotonicNanoseconds = monotonicNanoseconds
        self.maxDepth = maxDepth
        self.executable = executable
        self.arguments = arguments
        self.ringLog2 = ringLog2
    }
}

/// One loaded object as the shim saw it: where it is mapped and where it came from.
public struct LoadedModule: Equatable, Sendable {
    public var path: String
    public var bias: UInt64
    public var buildID: [UInt8]
    /// Executable segments, runtime addresses, half-open.
    public var segments: [Range<UInt64>]

    public init(path: String, bias: UInt64, buildID: [UInt8], segments: [Range<UInt64>]) {
        self.path = path
        self.bias = bias
        self.buildID = buildID
        self.segments = segments
    }
}

/// The shim's counters from the FINAL record.
public struct ShimCounters: Equatable, Sendable {
    public var noStack: UInt64 = 0
    public var stacksDropped: UInt64 = 0
    public var bootstrapAllocations: UInt64 = 0
    public var failedAllocations: UInt64 = 0
    public var skippedWords: UInt64 = 0
    /// Sampled blocks the shim's table of sampled blocks had no room for (left unrecorded). A trace carries this
    /// in `Sampling.refused`, not here.
    public var samplesRefused: UInt64 = 0
    public var exitStatus: UInt64? = nil

    public init(
        noStack: UInt64 = 0, stacksDropped: UInt64 = 0, bootstrapAllocations: UInt64 = 0,
        failedAllocations: UInt64 = 0, skippedWords: UInt64 = 0, samplesRefused: UInt64 = 0, exitStatus: UInt64? = nil
    ) {
        self.samplesRefused = samplesRefused
        self.noStack = noStack
        self.stacksDropped = stacksDropped
        self.bootstrapAllocations = bootstrapAllocations
        self.failedAllocations = failedAllocations
        self.skippedWords = skippedWords
        self.exitStatus = exitStatus
    }
}

/// A clock and memory sample: taken by the collector (TICK records of saved format-1 streams come from the shim).
public struct MemoryTick: Equatable, Sendable {
    public var monotonicNanoseconds: UInt64
    public var residentBytes: UInt64
    public var virtualBytes: UInt64

    public init(monotonicNanoseconds: UInt64, residentBytes: UInt64, virtualBytes: UInt64) {
        self.monotonicNanoseconds = monotonicNanoseconds
        self.residentBytes = residentBytes
        self.virtualBytes = virtualBytes
    }
}

/// One decoded wire record. `tag` arguments are ring positions (see leaktrack_wire.h).
public enum WireRecord: Equatable, Sendable {
    case hello(Hello)
    case modulesBegin
    case module(LoadedModule)
    case modulesEnd
    /// `truncated`: the stack went deeper than the shim's LEAKTRACK_DEPTH and was cut there.
    case stack(id: UInt32, frames: [UInt64], truncated: Bool = false)
    /// `thread`: the allocating thread's ordinal, named by a `.thread` record before it (`SpecialThread`: 0 in
    /// streams of format 1 and 2).
    case alloc(ptr: UInt64, size: UInt64, stack: UInt32, kind: AllocKind, thread: UInt16)
    case free(ptr: UInt64)
    case reallocBegin(ptr: UInt64, tag: UInt64)
    case reallocEnd(
        beginTag: UInt64, newPtr: UInt64, size: UInt64, stack: UInt32, failed: Bool, kind: AllocKind, thread: UInt16)
    case tick(MemoryTick)
    case skip(fromTag: UInt64, words: UInt64)
    case final(ShimCounters)
    /// Names a thread's ordinal in this stream (format 3): its kernel thread id, and its name (comm) when it
    /// first allocated. Ordinals are dense from 1, each named once, before the first record that carries it.
    case thread(ordinal: UInt32, tid: UInt32, name: String)
}

/// Stack ids that are not stacks (see LT_NO_STACK and LT_DROPPED_STACK in the wire header).
public enum SpecialStack {
    /// Allocated while the shim itself was running (libunwind's own bookkeeping).
    public static let none = UInt32(LT_NO_STACK)
    /// The program's allocation, but its stack did not fit in the shim's stack table.
    public static let dropped = UInt32(LT_DROPPED_STACK)
}

/// Thread ordinals that name no thread (see LT_THREAD_UNKNOWN and LT_THREAD_MANY in the wire header).
public enum SpecialThread {
    /// Not known: every allocation of a stream of format 1 or 2.
    public static let unknown = UInt16(LT_THREAD_UNKNOWN)
    /// A thread beyond the 65534 ordinals a stream can name: no `.thread` record names it.
    public static let many = UInt16(LT_THREAD_MANY)
}
