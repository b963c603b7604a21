/// Everything `leaktrack report` needs about one traced process, independent of the binaries that produced
/// it: symbolized at the end of capture and stored in the trace file.
public struct Trace: Equatable, Sendable {
    public var process: ProcessSummary
    public var modules: [Module]
    public var frames: [Frame]
    /// Indexed by stack id; index 0 is the "no stack" pseudo stack (allocations made inside the shim).
    public var stacks: [Stack]
    /// Allocations the program had not freed when the stream ended: sorted by stack id, then address, as
    /// Session.makeTrace makes them and the trace file stores them (TraceFile.encode sorts a copy otherwise).
    public var live: [LiveAllocation]
    public var totals: Totals
    public var lost: ShimCounters
    public var samples: [MemorySample]
    /// Set when symbolization was incomplete (no symbolizer, or one that failed): frames it left as
    /// module + offset, and why.
    public var symbolization: SymbolizationNote?
    /// The snapshots taken while the process ran, oldest first; the last one is this trace itself (its trigger
    /// says why it was made: "exit" for a final trace, a rule for a snapshot file). Empty for traces written
    /// before snapshots existed.
    public var snapshots: [SnapshotSummary] = []
    /// The threads that allocated, by their ordinal in the stream (LiveAllocation.thread).
    public var threads: [ThreadInfo] = []
    /// Set for a sampled trace, whose figures (totals, stacks, snapshots, the heap in the memory samples) are
    /// estimates and whose live allocations are the sampled blocks; nil when every allocation was recorded.
    public var sampling: Sampling?

    /// Keeps the first snapshot summary and the latest `count - 1` (the last is the trace itself).
    public mutating func keepLatestSnapshots(_ count: Int) {
        guard snapshots.count > count, count >= 2 else { return }
        snapshots = [snapshots[0]] + snapshots.suffix(count - 1)
    }

    /// This trace is a snapshot of a process that kept running, not its end.
    public var isSnapshot: Bool {
        snapshots.last.map { $0.trigger != SnapshotSummary.exitTrigger && $0.trigger != SnapshotSummary.endTrigger }
            ?? false
    }

    public init(
        process: ProcessSummary, modules: [Module], frames: [Frame], stacks: [Stack], live: [LiveAllocation],
        totals: Totals, lost: ShimCounters, samples: [MemorySample]
    ) {
        self.process = process
        self.modules = modules
        self.frames = frames
        self.stacks = stacks
        self.live = live
        self.totals = totals
        self.lost = lost
        self.samples = samples
    }
}

/// Why some frames that should have names have none: the symbolizer was missing, could not be run, or died.
public struct SymbolizationNote: Equatable, Sendable {
    /// Frames the symbolizer was asked for (the distinct frames of stacks holding memory at the end).
    public var requested: Int
    /// Of those, frames it gave no answer for.
    public var unanswered: Int
    /// One sentence: what went wrong.
    public var reason: String

    public init(requested: Int, unanswered: Int, reason: String) {
        self.requested = requested
        self.unanswered = unanswered
        self.reason = reason
    }
}

public struct ProcessSummary: Equatable, Sendable {
    public var pid: UInt32
    public var ppid: UInt32
    public var executable: String
    public var arguments: [String]
    public var forked: Bool
    /// Wall clock at start, nanoseconds since 1970.
    public var startTime: UInt64
    public var durationNanoseconds: UInt64
    /// The stream ended with the shim's FINAL record (false: the process was killed, or the collector was).
    public var complete: Bool
    public var exitStatus: UInt64?

    public init(
        pid: UInt32, ppid: UInt32, executable: String, arguments: [String], forked: Bool, startTime: UInt64,
        durationNanoseconds: UInt64, complete: Bool, exitStatus: UInt64?
    ) {
        self.pid = pid
        self.ppid = ppid
        self.executable = executable
        self.arguments = arguments
        self.forked = forked
        self.startTime = startTime
        self.durationNanoseconds = durationNanoseconds
        self.complete = complete
        self.exitStatus = exitStatus
    }
}

public struct Module: Equatable, Sendable {
    public var path: String
    public var buildID: [UInt8]
    public var bias: UInt64

    /// The file name, which reports use to name the module ("libleakcom.so").
    public var name: String {
        guard let slash = path.lastIndex(of: "/") else { return path.isEmpty ? "[unknown]" : path }
        return String(path[path.index(after: slash)...])
    }

    public var buildIDHex: String { buildID.map { String($0, radix: 16).leftPadded(to: 2) }.joined() }

    public init(path: String, buildID: [UInt8], bias: UInt64) {
        self.path = path
        self.buildID = buildID
        self.bias = bias
    }
}

/// One distinct return address, resolved to a module and, where possible, to source.
public struct Frame: Equatable, Sendable {
    public var address: UInt64
    /// Index into `Trace.modules`, nil for an address outside every known module ("[anon]").
    public var module: Int?
    /// Address relative to the module's load bias (the ELF virtual address).
    public var offset: UInt64
    /// Innermost first: inlined functions, then the function that contains the address. Empty when
    /// not symbolized.
    public var symbols: [Symbol]

    public init(address: UInt64, module: Int?, offset: UInt64, symbols: [Symbol]) {
        self.address = address
        self.module = module
        self.offset = offset
        self.symbols = symbols
    }
}

public struct Symbol: Equatable, Sendable {
    /// The demangled name (C++ and Swift), as reports show it.
    public var function: String
    public var file: String?
    public var line: Int?
    public var column: Int?
    public var inlined: Bool
    /// The name as the binary spells it, when demangling changed it (`report --no-demangle` shows this).
    public var linkageName: String?

    public init(
        function: String, file: String? = nil, line: Int? = nil, column: Int? = nil, inlined: Bool = false,
        linkageName: String? = nil
    ) {
        self.function = function
        self.file = file
        self.line = line
        self.column = column
        self.inlined = inlined
        self.linkageName = linkageName
    }
}

public struct Stack: Equatable, Sendable {
    /// Indexes into `Trace.frames`, innermost first.
    public var frames: [Int]
    public var allocations: UInt64
    public var allocatedBytes: UInt64
    public var liveCount: UInt64
    public var liveBytes: UInt64
    /// The stack went deeper than the shim's LEAKTRACK_DEPTH and was cut there.
    public var truncated: Bool

    public init(
        frames: [Int], allocations: UInt64 = 0, allocatedBytes: UInt64 = 0, liveCount: UInt64 = 0,
        liveBytes: UInt64 = 0,
        truncated: Bool = false
    ) {
        self.frames = frames
        self.truncated = truncated
        self.allocations = allocations
        self.allocatedBytes = allocatedBytes
        self.liveCount = liveCount
        self.liveBytes = liveBytes
    }
}

public struct LiveAllocation: Equatable, Sendable {
    public var address: UInt64
    public var size: UInt64
    public var stack: UInt32
    /// When it was allocated, in `LiveAllocation.stampNanoseconds` units since the stream began (coarse: the
    /// collector stamps a batch of records with one clock reading).
    public var stamp: UInt32
    /// The allocating thread's ordinal in the stream (`Trace.threads`), 0 when unknown.
    public var thread: UInt16

    /// 10 ms: a UInt32 of them spans 497 days.
    public static let stampNanoseconds: UInt64 = 10_000_000

    public init(address: UInt64, size: UInt64, stack: UInt32, stamp: UInt32 = 0, thread: UInt16 = 0) {
        self.address = address
        self.size = size
        self.stack = stack
        self.stamp = stamp
        self.thread = thread
    }

    /// Nanoseconds since the stream began.
    public var time: UInt64 { UInt64(stamp) * LiveAllocation.stampNanoseconds }

    /// The stamp for a time in nanoseconds since the stream began (saturating).
    public static func stamp(forNanoseconds time: UInt64) -> UInt32 {
        UInt32(clamping: time / stampNanoseconds)
    }
}

/// A thread of the traced process, as its THREAD record named it.
public struct ThreadInfo: Equatable, Sendable {
    public var ordinal: UInt32
    public var tid: UInt32
    public var name: String

    public init(ordinal: UInt32, tid: UInt32, name: String) {
        self.ordinal = ordinal
        self.tid = tid
        self.name = name
    }
}

/// One snapshot's worth of a running process: why and when it was taken, the counters at that moment, and
/// what each stack held. Per-stack sums, not the blocks: a trace keeps every snapshot taken, so a long run's
/// collector holds a few bytes per stack per snapshot, never a copy of the live table.
public struct SnapshotSummary: Equatable, Sendable {
    /// 1, 2, ... in the order taken.
    public var index: Int
    /// Nanoseconds since the stream began.
    public var time: UInt64
    /// Why: "resident>=800M", "every", "request", "exit", ...
    public var trigger: String
    public var residentBytes: UInt64
    public var privateBytes: UInt64
    public var virtualBytes: UInt64
    public var heapBytes: UInt64
    public var heapCount: UInt64
    /// Allocations made up to then (for growth per million allocations).
    public var allocations: UInt64
    /// Stacks holding memory at that moment, by ascending stack id.
    public var stacks: [StackAmount]

    /// The final trace of a process that exited (FINAL arrived).
    public static let exitTrigger = "exit"
    /// The final trace of a stream that ended without FINAL (the process was killed, or exec'd).
    public static let endTrigger = "end"

    public init(
        index: Int, time: UInt64, trigger: String, residentBytes: UInt64 = 0, privateBytes: UInt64 = 0,
        virtualBytes: UInt64 = 0, heapBytes: UInt64 = 0, heapCount: UInt64 = 0, allocations: UInt64 = 0,
        stacks: [StackAmount] = []
    ) {
        self.index = index
        self.time = time
        self.trigger = trigger
        self.residentBytes = residentBytes
        self.privateBytes = privateBytes
        self.virtualBytes = virtualBytes
        self.heapBytes = heapBytes
        self.heapCount = heapCount
        self.allocations = allocations
        self.stacks = stacks
    }
}

/// What one stack held at a snapshot.
public struct StackAmount: Equatable, Sendable {
    public var stack: UInt32
    public var count: UInt64
    public var bytes: UInt64

    public init(stack: UInt32, count: UInt64, bytes: UInt64) {
        self.stack = stack
        self.count = count
        self.bytes = bytes
    }
}

public struct Totals: Equatable, Sendable {
    public var allocations: UInt64 = 0
    public var frees: UInt64 = 0
    public var allocatedBytes: UInt64 = 0
    public var peakLiveBytes: UInt64 = 0
    /// Frees of addresses that were not live (allocated before tracking started, or by an untracked path).
    public var unknownFrees: UInt64 = 0
    /// Allocations whose stack did not fit the shim's table (counted in `Trace.stacks` nowhere else).
    public var droppedStackAllocations: UInt64 = 0
    public var events: UInt64 = 0

    public init() {}
}

/// The target's memory at one moment (Perfmon's counters): what the collector samples at its interval.
public struct MemorySample: Equatable, Sendable {
    /// Nanoseconds since the process started being traced.
    public var time: UInt64
    /// VmRSS (the working set).
    public var residentBytes: UInt64
    public var virtualBytes: UInt64
    /// Bytes in live heap allocations at that point, as leaktrack sees them.
    public var heapBytes: UInt64
    /// RssAnon + VmSwap (private bytes); 0 when unknown.
    public var privateBytes: UInt64
    /// Live heap allocations at that point.
    public var heapCount: UInt64
    /// The machine's MemAvailable; 0 when unknown.
    public var availableBytes: UInt64

    public init(
        time: UInt64, residentBytes: UInt64, virtualBytes: UInt64, heapBytes: UInt64, privateBytes: UInt64 = 0,
        heapCount: UInt64 = 0, availableBytes: UInt64 = 0
    ) {
        self.time = time
        self.residentBytes = residentBytes
        self.virtualBytes = virtualBytes
        self.heapBytes = heapBytes
        self.privateBytes = privateBytes
        self.heapCount = heapCount
        self.availableBytes = availableBytes
    }
}

extension String {
    func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
