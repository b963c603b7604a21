import LeakTrackCore

/// One frame as reports show it: an inlined function gets a frame of its own.
public struct ReportFrame: Equatable, Sendable {
    public var function: String
    public var module: String
    public var modulePath: String
    public var file: String?
    public var line: Int?
    public var address: UInt64
    public var inlined: Bool
    /// False when no symbol was found: `function` is then "module+0xoffset".
    public var symbolized: Bool
}

/// Leaked memory grouped under one key (a call site, a function, a module or a stack).
public struct LeakGroup: Equatable, Sendable {
    public var function: String
    public var module: String
    public var modulePath: String
    public var file: String?
    public var line: Int?
    public var bytes: UInt64
    public var count: UInt64
    /// The sampled blocks behind `bytes` and `count`, which are then estimates (sampled traces; else `count`).
    public var samples: UInt64
    /// Every stack the group covers, the one holding the most bytes first (stack-level formats render them
    /// all; the text report shows the first).
    public var stacks: [LeakStack]
    /// How it moved across the trace's snapshots (call-site grouping, traces with three snapshots or more).
    public var growth: SiteGrowth? = nil
    /// How old its live blocks are (traces that stamp allocations).
    public var age: AgeSummary? = nil

    /// The stack holding the most bytes in this group.
    public var stack: [ReportFrame] { stacks.first?.frames ?? [] }
    /// How many distinct stacks the group covers.
    public var stackCount: Int { stacks.count }
    /// The stack shown was cut at the shim's depth limit (LEAKTRACK_DEPTH): it went deeper.
    public var stackTruncated: Bool { stacks.first?.truncated ?? false }

    /// This group's identity (the gate merges groups of several traces by it).
    public var id: CallSiteID { CallSiteID(self) }
}

/// One stack's share of a group: what it still held, and its frames, innermost first.
public struct LeakStack: Equatable, Sendable {
    public var frames: [ReportFrame]
    public var bytes: UInt64
    public var count: UInt64
    /// The sampled blocks behind the estimates (sampled traces; else `count`).
    public var samples: UInt64
    /// Cut at the shim's depth limit (LEAKTRACK_DEPTH): it went deeper.
    public var truncated: Bool

    /// Larger first; equal ones in a stable order.
    static func largerFirst(_ a: LeakStack, _ b: LeakStack) -> Bool {
        a.bytes != b.bytes
            ? a.bytes > b.bytes
            : a.count != b.count
                ? a.count > b.count
                : a.frames.lexicographicallyPrecedes(b.frames) { $0.address < $1.address }
    }
}

public struct ModuleLeaks: Equatable, Sendable {
    public var module: String
    public var path: String
    /// GNU build id, hex; empty if the module has none.
    public var buildID: String
    public var bytes: UInt64
    public var count: UInt64
    public var samples: UInt64
    /// Functions in this module that hold leaked memory, by bytes.
    public var functions: [LeakGroup]
}

public struct SuppressedLeaks: Equatable, Sendable {
    public var reason: String
    public var bytes: UInt64
    public var count: UInt64
}

/// How to group call sites in the report.
public enum Grouping: String, CaseIterable, Sendable {
    case callsite, function, module, stack
}

/// The analyzed leaks of one trace: what `report` renders and `check` will judge.
public struct LeakReport: Equatable, Sendable {
    public var process: ProcessSummary
    public var leakedBytes: UInt64
    public var leakedCount: UInt64
    /// Set for a sampled trace: every amount is then an estimate, made from `leakedSamples` sampled blocks.
    public var sampling: Sampling?
    public var leakedSamples: UInt64 = 0
    public var modules: [ModuleLeaks]
    public var groups: [LeakGroup]
    public var grouping: Grouping
    public var suppressed: [SuppressedLeaks]
    /// Allocations made by the shim's own unwinder: not the program's, never counted as leaks.
    public var internalBytes: UInt64
    public var internalCount: UInt64
    public var totals: Totals
    public var lost: ShimCounters
    public var samples: [MemorySample]
    /// How many stacks the shim cut at its depth limit (LEAKTRACK_DEPTH).
    public var truncatedStacks: Int = 0
    /// Set when symbolization was incomplete (see `Trace.symbolization`).
    public var symbolization: SymbolizationNote?
    /// The snapshots of the run, the trace itself last (see `Trace.snapshots`).
    public var snapshots: [SnapshotSummary] = []
    /// The trace is a snapshot of a process that kept running.
    public var isSnapshot = false
    /// Groups' `age.olderBytes` counts blocks older than this (10 minutes, or half a shorter run).
    public var ageCutoffSeconds: Double?

    /// Call sites are ranked by growth: the trace has enough snapshots to tell growth from size.
    public var hasGrowth: Bool { groups.contains { $0.growth != nil } }
    /// Three points tell a climb from a climb that stopped.
    public static let snapshotsForGrowth = 3
    /// The most snapshots and call sites the growth analysis looks at (it holds one amount per pair).
    public static let growthSnapshots = 512
    public static let growthSites = 2000

    /// `limit` indexes out of 0..<count, evenly spaced, the first and the last included (all when they fit).
    static func evenlyChosen(_ count: Int, at limit: Int) -> [Int] {
        guard count > limit else { return Array(0..<count) }
        return (0..<limit).map { $0 * (count - 1) / (limit - 1) }
    }
    /// The call site whose growth looks most like a leak, if any is growing.
    public var leakSuspect: LeakGroup? { groups.first { $0.growth?.verdict == .growing } }

    public var suppressedBytes: UInt64 { suppressed.reduce(UInt64(0)) { $0.saturatingAdd($1.bytes) } }
    public var suppressedCount: UInt64 { suppressed.reduce(UInt64(0)) { $0.saturatingAdd($1.count) } }
}

public struct ReportOptions: Sendable {
    public var rules = CallSiteRules()
    public var suppressions = Suppressions()
    public var grouping = Grouping.callsite
    /// Keep at most this many groups (and functions per module); nil keeps all.
    public var top: Int? = nil
    /// Show demangled C++ and Swift names (false: the names as the binaries spell them).
    public var demangle = true

    public init() {}
}

extension LeakReport {
    /// Analyzes the allocations still live at the end of the trace.
    public init(trace: Trace, options: ReportOptions = ReportOptions()) {
        let resolver = FrameResolver(trace: trace, demangle: options.demangle)

        // Live bytes and counts per stack id, from the live allocations themselves. Every sum of amounts read
        // from a file saturates: the reader refuses live sizes that cannot be, but a report is only displayed
        // (and the gate adds several), so a sum at UInt64.max says "too much" instead of trapping.
        var perStack: [UInt32: (bytes: UInt64, count: UInt64, samples: UInt64)] = [:]
        if let sampling = trace.sampling {
            // Each sampled block stands for 1 / P(sampled) blocks of its size: summed block by block, per stack.
            var sums: [UInt32: (bytes: Double, count: Double, samples: UInt64)] = [:]
            for allocation in trace.live {
                let e = sampling.estimate(ofSize: allocation.size)
                let sum = sums[allocation.stack, default: (0, 0, 0)]
                sums[allocation.stack] = (sum.bytes + e.bytes, sum.count + e.count, sum.samples + 1)
            }
            for (stack, sum) in sums {
                perStack[stack] = (UInt64(estimate: sum.bytes), UInt64(estimate: sum.count), sum.samples)
            }
        } else {
            for allocation in trace.live {
                let sum = perStack[allocation.stack, default: (0, 0, 0)]
                perStack[allocation.stack] = (
                    sum.bytes.saturatingAdd(allocation.size), sum.count.saturatingAdd(1), sum.samples.saturatingAdd(1)
                )
            }
        }

        var internalBytes: UInt64 = 0, internalCount: UInt64 = 0
        var suppressed: [String: (bytes: UInt64, count: UInt64)] = [:]
        /// One stack's leaks, and the call site chosen for them.
        typealias Leak = (site: ReportFrame, stack: LeakStack, id: UInt32)
        var leaks: [Leak] = []
        for (id, amount) in perStack {
            if id == SpecialStack.none {
                internalBytes = internalBytes.saturatingAdd(amount.bytes)
                internalCount = internalCount.saturatingAdd(amount.count)
                continue
            }
            let frames = id == SpecialStack.dropped ? [] : resolver.frames(ofStack: Int(id))
            let site = options.rules.callSite(frames) ?? ReportFrame.unrecorded
            if let reason = options.suppressions.reason(
                for: frames, allocatingFrame: options.rules.allocatingFrame(frames))
            {
                let sum = suppressed[reason, default: (0, 0)]
                suppressed[reason] = (sum.bytes.saturatingAdd(amount.bytes), sum.count.saturatingAdd(amount.count))
                continue
            }
            let truncated =
                id != SpecialStack.dropped && Int(id) < trace.stacks.count && trace.stacks[Int(id)].truncated
            let stack = LeakStack(
                frames: frames, bytes: amount.bytes, count: amount.count, samples: amount.samples, truncated: truncated)
            leaks.append((site, stack, id))
        }
        // The largest stack first, once: every group's stacks are then in that order as they are added.
        leaks.sort { LeakStack.largerFirst($0.stack, $1.stack) }

        /// What a leak is grouped by: its call site at the grouping's precision, or its whole stack.
        enum GroupKey: Hashable {
            case site(CallSiteID)
            case stack([UInt64])
        }
        func key(_ leak: Leak, _ grouping: Grouping) -> GroupKey {
            let site = CallSiteID(leak.site)
            switch grouping {
            case .callsite: return .site(site)
            case .function: return .site(site.at(.function))
            case .module: return .site(site.at(.module))
            case .stack: return .stack(leak.stack.frames.map(\.address))
            }
        }
        // Growth per call site across the snapshots, by the key the groups are made by.
        var growthByKey: [GroupKey: SiteGrowth] = [:]
        let snapshots = trace.snapshots
        // Bounded whatever the trace holds: at most `growthSnapshots` snapshots (evenly chosen, the first and
        // the last among them) for the `growthSites` call sites holding the most at the end.
        let chosen = LeakReport.evenlyChosen(snapshots.count, at: LeakReport.growthSnapshots)
        var analyzed: Set<GroupKey> = []
        if options.grouping == .callsite, chosen.count >= LeakReport.snapshotsForGrowth {
            var bytesByKey: [GroupKey: UInt64] = [:]
            for leak in leaks { bytesByKey[key(leak, .callsite), default: 0] &+= leak.stack.bytes }
            analyzed = Set(bytesByKey.sorted { $0.value > $1.value }.prefix(LeakReport.growthSites).map(\.key))
        }
        if !analyzed.isEmpty {
            var keyOfStack: [UInt32: GroupKey?] = [:]
            var series: [GroupKey: (bytes: [UInt64], counts: [UInt64])] = [:]
            for (i, index) in chosen.enumerated() {
                for amount in snapshots[index].stacks where amount.stack != SpecialStack.none {
                    if keyOfStack[amount.stack] == nil {
                        let frames = resolver.frames(ofStack: Int(amount.stack))
                        let site = options.rules.callSite(frames) ?? ReportFrame.unrecorded
                        let suppressed =
                            options.suppressions.reason(
                                for: frames, allocatingFrame: options.rules.allocatingFrame(frames)) != nil
                        let key = GroupKey.site(CallSiteID(site))
                        keyOfStack[amount.stack] = suppressed || !analyzed.contains(key) ? .some(nil) : .some(key)
                    }
                    guard case .some(.some(let key)) = keyOfStack[amount.stack] else { continue }
                    var entry =
                        series[key]
                        ?? (Array(repeating: 0, count: chosen.count), Array(repeating: 0, count: chosen.count))
                    entry.bytes[i] = entry.bytes[i].saturatingAdd(amount.bytes)
                    entry.counts[i] = entry.counts[i].saturatingAdd(amount.count)
                    series[key] = entry
                }
            }
            let times = chosen.map { snapshots[$0].time }, allocations = chosen.map { snapshots[$0].allocations }
            for (key, entry) in series {
                growthByKey[key] = GrowthAnalysis.analyze(
                    times: times, allocations: allocations, bytes: entry.bytes, counts: entry.counts)
            }
        }
        // Ages of the live blocks, per stack: the oldest, and the bytes older than the cutoff.
        var ageByStack: [UInt32: AgeSummary] = [:]
        var ageCutoff: Double?
        if !snapshots.isEmpty {
            let end = trace.process.durationNanoseconds
            let cutoff = end >= 1_200_000_000_000 ? 600.0 : Double(end) / 2e9
            ageCutoff = cutoff
            for allocation in trace.live {
                let age = Double(end &- min(allocation.time, end)) / 1e9
                var summary = ageByStack[allocation.stack] ?? AgeSummary(oldestSeconds: 0, olderBytes: 0)
                summary.oldestSeconds = max(summary.oldestSeconds, age)
                if age > cutoff { summary.olderBytes = summary.olderBytes.saturatingAdd(allocation.size) }
                ageByStack[allocation.stack] = summary
            }
        }
        func group(by grouping: Grouping, _ items: [Leak]) -> [LeakGroup] {
            // Groups are changed in place, in an array: a group copied out of a dictionary and stored back
            // copied its whole array of stacks for every stack added (quadratic: minutes for 65,536 stacks).
            var groups: [LeakGroup] = []
            var index: [GroupKey: Int] = [:]
            for leak in items {
                let k = key(leak, grouping)
                if let i = index[k] {
                    groups[i].bytes = groups[i].bytes.saturatingAdd(leak.stack.bytes)
                    groups[i].count = groups[i].count.saturatingAdd(leak.stack.count)
                    groups[i].samples = groups[i].samples.saturatingAdd(leak.stack.samples)
                    groups[i].stacks.append(leak.stack)
                    if let age = ageByStack[leak.id], let had = groups[i].age {
                        groups[i].age = AgeSummary(
                            oldestSeconds: max(had.oldestSeconds, age.oldestSeconds),
                            olderBytes: had.olderBytes.saturatingAdd(age.olderBytes))
                    }
                } else {
                    let s = leak.site
                    let byModule = grouping == .module
                    let byFunction = grouping == .function
                    index[k] = groups.count
                    groups.append(
                        LeakGroup(
                            function: byModule ? "" : s.function, module: s.module, modulePath: s.modulePath,
                            file: byModule || byFunction ? nil : s.file, line: byModule || byFunction ? nil : s.line,
                            bytes: leak.stack.bytes, count: leak.stack.count, samples: leak.stack.samples,
                            stacks: [leak.stack],
                            growth: growthByKey[k], age: ageByStack[leak.id]))
                }
            }
            return groups.sorted(by: growthByKey.isEmpty ? LeakGroup.largerFirst : LeakGroup.fasterGrowingFirst)
        }

        // One pass each over the leaks and the modules: a trace can name many of both.
        var leaksByModule: [String: [Leak]] = [:]
        for leak in leaks { leaksByModule[leak.site.module, default: []].append(leak) }
        var buildIDs: [String: String] = [:]
        for module in trace.modules where buildIDs[module.path] == nil { buildIDs[module.path] = module.buildIDHex }
        var modules: [ModuleLeaks] = []
        for moduleGroup in group(by: .module, leaks) {
            var functions = group(by: .function, leaksByModule[moduleGroup.module] ?? [])
            if let top = options.top { functions = Array(functions.prefix(top)) }
            modules.append(
                ModuleLeaks(
                    module: moduleGroup.module, path: moduleGroup.modulePath,
                    buildID: buildIDs[moduleGroup.modulePath] ?? "",
                    bytes: moduleGroup.bytes,
                    count: moduleGroup.count, samples: moduleGroup.samples, functions: functions))
        }
        var groups = group(by: options.grouping, leaks)
        if let top = options.top {
            groups = Array(groups.prefix(top))
            modules = Array(modules.prefix(top))
        }

        self.init(
            process: trace.process,
            leakedBytes: leaks.reduce(UInt64(0)) { $0.saturatingAdd($1.stack.bytes) },
            leakedCount: leaks.reduce(UInt64(0)) { $0.saturatingAdd($1.stack.count) },
            modules: modules, groups: groups, grouping: options.grouping,
            suppressed: suppressed.map { SuppressedLeaks(reason: $0.key, bytes: $0.value.bytes, count: $0.value.count) }
                .sorted { ($0.bytes, $0.reason) > ($1.bytes, $1.reason) },
            internalBytes: internalBytes, internalCount: internalCount,
            totals: trace.totals, lost: trace.lost, samples: trace.samples,
            truncatedStacks: trace.stacks.reduce(0) { $0 + ($1.truncated ? 1 : 0) }, symbolization: trace.symbolization,
            snapshots: snapshots, isSnapshot: trace.isSnapshot, ageCutoffSeconds: ageCutoff)
        sampling = trace.sampling
        leakedSamples = leaks.reduce(UInt64(0)) { $0.saturatingAdd($1.stack.samples) }
    }
}

extension LeakGroup {
    /// Growing sites first, fastest first; then bounded ones, then stable ones, each by size.
    static func fasterGrowingFirst(_ a: LeakGroup, _ b: LeakGroup) -> Bool {
        func rank(_ g: LeakGroup) -> Int {
            switch g.growth?.verdict {
            case .growing: return 0
            case .bounded: return 1
            default: return 2
            }
        }
        if rank(a) != rank(b) { return rank(a) < rank(b) }
        if rank(a) == 0, let x = a.growth?.bytesPerHour, let y = b.growth?.bytesPerHour, x != y { return x > y }
        return largerFirst(a, b)
    }

    /// Most bytes first; ties by count, then by name so output is deterministic.
    static func largerFirst(_ a: LeakGroup, _ b: LeakGroup) -> Bool {
        if a.bytes != b.bytes { return a.bytes > b.bytes }
        if a.count != b.count { return a.count > b.count }
        if a.module != b.module { return a.module < b.module }
        if a.function != b.function { return a.function < b.function }
        if (a.line ?? 0) != (b.line ?? 0) { return (a.line ?? 0) < (b.line ?? 0) }
        // Groups by stack can tie on all of the above: their stacks decide, so the order never depends on hashing.
        return a.stack.lexicographicallyPrecedes(b.stack) { $0.address < $1.address }
    }
}

extension ReportFrame {
    static let unrecorded = ReportFrame(
        function: "[stack not recorded: LEAKTRACK_MAX_STACKS reached]", module: "[unknown]", modulePath: "",
        file: nil, line: nil, address: 0, inlined: false, symbolized: false)
}

/// Expands a trace's frames into report frames (one per inlined function), once per frame.
struct FrameResolver {
    let trace: Trace
    private var expanded: [[ReportFrame]]

    init(trace: Trace, demangle: Bool = true) {
        self.trace = trace
        expanded = trace.frames.map { frame in
            let module = frame.module.map { trace.modules[$0] }
            let name = module?.name ?? "[anon]"
            let path = module?.path ?? ""
            if frame.symbols.isEmpty {
                let function =
                    module != nil
                    ? "\(name)+0x\(String(frame.offset, radix: 16))" : "0x\(String(frame.address, radix: 16))"
                return [
                    ReportFrame(
                        function: function, module: name, modulePath: path, file: nil, line: nil,
                        address: frame.address, inlined: false, symbolized: false)
                ]
            }
            return frame.symbols.map { symbol in
                ReportFrame(
                    function: demangle ? symbol.function : symbol.linkageName ?? symbol.function, module: name,
                    modulePath: path, file: symbol.file, line: symbol.line,
                    address: frame.address, inlined: symbol.inlined, symbolized: true)
            }
        }
    }

    func frames(ofStack id: Int) -> [ReportFrame] {
        guard id < trace.stacks.count else { return [] }
        return trace.stacks[id].frames.flatMap { expanded[$0] }
    }
}

extension UInt64 {
    /// The sum, or UInt64.max if it does not fit: for totals of amounts read from files, which are displayed.
    func saturatingAdd(_ other: UInt64) -> UInt64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? .max : sum
    }
}
