import LeakTrackCore

/// Golden traces made in code rather than recorded: what a short fixture run cannot show deterministically.
/// `scripts/golden --update` writes each to Tests/Golden/NAME.trace; the golden test checks that the file is
/// still exactly what this code encodes, so the two cannot drift (and a change of the trace encoding shows).
enum CraftedTraces {
    static let all: [(name: String, trace: Trace)] = [("losses", losses())]

    /// A server that lost things and ran long enough to be sampled: every loss counter set, four memory samples,
    /// a symbolization note, a stack cut at the depth limit, allocations whose stack was not recorded, the
    /// shim's own allocations, an unsymbolized frame, a frame outside every module, an inlined frame, one call
    /// site reached by two stacks, and a stdio buffer the default suppressions take out.
    static func losses() -> Trace {
        let modules = [
            Module(path: "/srv/app/bin/server", buildID: [0x5e, 0x7f, 0x01, 0x02], bias: 0x5555_5555_4000),
            Module(path: "/lib/x86_64-linux-gnu/libc.so.6", buildID: [0x93, 0xac], bias: 0x7fff_f7d8_0000),
            Module(path: "/srv/app/lib/libcache.so", buildID: [], bias: 0x7fff_f7f0_0000),
        ]
        var frames: [Frame] = []
        func frame(_ module: Int?, _ offset: UInt64, _ symbols: [Symbol]) -> Int {
            let bias = module.map { modules[$0].bias } ?? 0
            frames.append(Frame(address: bias + offset, module: module, offset: offset, symbols: symbols))
            return frames.count - 1
        }
        func frame(_ module: Int, _ offset: UInt64, _ function: String, _ file: String? = nil, _ line: Int? = nil)
            -> Int
        {
            frame(module, offset, [Symbol(function: function, file: file, line: line)])
        }
        let server = "/srv/app/src/server.c"
        let malloc = frame(1, 0x9_a0f0, "malloc", "malloc/malloc.c", 3287)
        let insert = frame(2, 0x1_2a4, "cache_insert", "/srv/app/src/cache.c", 41)
        let handle88 = frame(0, 0x1_5b0, "handle_request", server, 88)
        let handle93 = frame(0, 0x1_5d8, "handle_request", server, 93)
        let main = frame(0, 0x1_7c0, "main", server, 120)
        let start = frame(1, 0x2_724a, "__libc_start_main", "csu/libc-start.c", 360)
        let parse = frame(
            0, 0x1_5c4,
            [
                Symbol(function: "parse_header", file: "/srv/app/src/http.h", line: 12, inlined: true),
                Symbol(function: "handle_request", file: server, line: 90),
            ])
        let unnamed = frame(2, 0x1_f30, [])
        let jit = frame(nil, 0x7f00_dead_b000, [])
        let recurse = frame(0, 0x1_900, "walk_tree", "/srv/app/src/tree.c", 200)
        let stdio = frame(1, 0x7_b1e0, "_IO_file_doallocate", "libio/filedoalloc.c", 101)

        // Stack 0 is the pseudo stack of the shim's own allocations.
        var stacks = [Stack(frames: [])]
        var live: [LiveAllocation] = []
        var address: UInt64 = 0x5555_5560_0000
        func leak(_ stackFrames: [Int], count: Int, size: UInt64, truncated: Bool = false, id: UInt32? = nil) {
            let stack: UInt32
            if let id {
                stack = id
            } else {
                stacks.append(
                    Stack(
                        frames: stackFrames, allocations: UInt64(count) * 2, allocatedBytes: UInt64(count) * 2 * size,
                        liveCount: UInt64(count), liveBytes: UInt64(count) * size, truncated: truncated))
                stack = UInt32(stacks.count - 1)
            }
            for _ in 0..<count {
                address += 0x1000
                live.append(LiveAllocation(address: address, size: size, stack: stack))
            }
        }
        leak([malloc, insert, handle88, main, start], count: 3, size: 64)
        leak([malloc, insert, handle93, main, start], count: 2, size: 64)
        leak([malloc, parse, main, start], count: 1, size: 256)
        leak([malloc, unnamed, handle88, main, start], count: 1, size: 32)
        leak([malloc, jit], count: 1, size: 16)
        leak([malloc, recurse, recurse, recurse, recurse], count: 4, size: 8, truncated: true)
        leak([malloc, stdio, main, start], count: 1, size: 4096)
        leak([], count: 2, size: 100, id: SpecialStack.dropped)
        leak([], count: 1, size: 48, id: SpecialStack.none)
        // As Session.makeTrace makes them and the trace file keeps them.
        live.sort { ($0.stack, $0.address) < ($1.stack, $1.address) }

        var totals = Totals()
        totals.allocations = 1_000
        totals.frees = 985
        totals.allocatedBytes = 123_456
        totals.peakLiveBytes = 40_960
        totals.unknownFrees = 3
        totals.droppedStackAllocations = 7
        totals.events = 1_985
        var trace = Trace(
            process: ProcessSummary(
                pid: 4242, ppid: 1, executable: "/srv/app/bin/server", arguments: ["server", "--port", "8080"],
                forked: false, startTime: 1_767_225_600_000_000_000, durationNanoseconds: 450_000_000, complete: true,
                exitStatus: 0),
            modules: modules, frames: frames, stacks: stacks, live: live, totals: totals,
            lost: ShimCounters(
                noStack: 1, stacksDropped: 2, bootstrapAllocations: 5, failedAllocations: 1, skippedWords: 12,
                exitStatus: 0),
            samples: (1...4).map {
                MemorySample(
                    time: UInt64($0) * 100_000_000, residentBytes: 4_200_000 + UInt64($0) * 65_536,
                    virtualBytes: 9_000_000 + UInt64($0) * 131_072, heapBytes: UInt64($0) * 1_200)
            })
        trace.symbolization = SymbolizationNote(
            requested: 11, unanswered: 1, reason: "llvm-symbolizer gave no answer for 1 frame")
        return trace
    }
}
