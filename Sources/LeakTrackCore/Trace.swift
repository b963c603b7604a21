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

    public init(address: UInt64, size: UInt64, stack: UInt32) {
        self.address = address
        self.size = size
        self.stack = stack
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

public struct MemorySample: Equatable, Sendable {
    /// Nanoseconds since the process started being traced.
    public var time: UInt64
    public var residentBytes: UInt64
    public var virtualBytes: UInt64
    /// Bytes in live heap allocations at that point.
    public var heapBytes: UInt64

    public init(time: UInt64, residentBytes: UInt64, virtualBytes: UInt64, heapBytes: UInt64) {
        self.time = time
        self.residentBytes = residentBytes
        self.virtualBytes = virtualBytes
        self.heapBytes = heapBytes
    }
}

extension String {
    func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
