import ArgumentParser
import LeakTrackCore

struct DumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Print a trace file, or a raw shim stream, as readable lines (one record per line).")

    @Argument(help: "A trace file or a raw stream file.")
    var file: String

    func run() throws {
        let bytes = try InputFile(path: file, kind: .trace).readAll()
        var lines: [String] = []
        if TraceFile.looksLikeTrace(bytes) || bytes.count < 16 {
            lines = try TraceDump.lines(TraceFile.decode(bytes, name: file))
        } else {
            var decoder = StreamDecoder(name: file)
            try bytes.withUnsafeBytes { try decoder.feed($0) { lines.append(TraceDump.line($0)) } }
            try decoder.finish()
        }
        Output.print(lines.joined(separator: "\n") + "\n")
    }
}

/// The readable form of traces and stream records, shared by `dump` and tests.
enum TraceDump {
    static func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

    static func line(_ record: WireRecord) -> String {
        switch record {
        case .hello(let h):
            return "HELLO version=\(h.version) pid=\(h.pid) ppid=\(h.ppid) forked=\(h.forked) depth=\(h.maxDepth) exe=\(h.executable) args=\(h.arguments)"
        case .modulesBegin: return "MODULES_BEGIN"
        case .module(let m):
            let segments = m.segments.map { "\(hex($0.lowerBound))-\(hex($0.upperBound))" }.joined(separator: ",")
            return "MODULE \(m.path.isEmpty ? "[no file]" : m.path) bias=\(hex(m.bias)) build-id=\(m.buildID.map { String($0, radix: 16) }.joined()) segments=\(segments)"
        case .modulesEnd: return "MODULES_END"
        case .stack(let id, let frames): return "STACK \(id) " + frames.map(hex).joined(separator: " ")
        case .alloc(let ptr, let size, let stack, let kind): return "ALLOC \(hex(ptr)) size=\(size) stack=\(stack) via=\(kind.functionName)"
        case .free(let ptr): return "FREE \(hex(ptr))"
        case .reallocBegin(let ptr, let tag): return "REALLOC_BEGIN \(hex(ptr)) tag=\(tag)"
        case .reallocEnd(let tag, let ptr, let size, let stack, let failed, let kind):
            return "REALLOC_END tag=\(tag) \(failed ? "FAILED" : hex(ptr)) size=\(size) stack=\(stack) via=\(kind.functionName)"
        case .tick(let t): return "TICK t=\(t.monotonicNanoseconds) rss=\(t.residentBytes) vm=\(t.virtualBytes)"
        case .skip(let from, let words): return "SKIP from=\(from) words=\(words)"
        case .final(let c):
            return "FINAL no-stack=\(c.noStack) stacks-dropped=\(c.stacksDropped) bootstrap=\(c.bootstrapAllocations) failed=\(c.failedAllocations) skipped-words=\(c.skippedWords) exit=\(c.exitStatus.map(String.init) ?? "unknown")"
        }
    }

    static func lines(_ trace: Trace) -> [String] {
        var out: [String] = []
        let p = trace.process
        out.append("PROCESS pid=\(p.pid) ppid=\(p.ppid) exe=\(p.executable) args=\(p.arguments) complete=\(p.complete) exit=\(p.exitStatus.map(String.init) ?? "unknown") duration-ns=\(p.durationNanoseconds)")
        for (i, m) in trace.modules.enumerated() {
            out.append("MODULE \(i) \(m.path) bias=\(hex(m.bias)) build-id=\(m.buildIDHex)")
        }
        for (i, f) in trace.frames.enumerated() {
            let symbols = f.symbols.map { s in
                (s.inlined ? "inlined " : "") + s.function + (s.file.map { " \($0)" + (s.line.map { ":\($0)" } ?? "") } ?? "")
            }.joined(separator: " <- ")
            out.append("FRAME \(i) \(hex(f.address)) module=\(f.module.map(String.init) ?? "anon") offset=\(hex(f.offset)) \(symbols)")
        }
        for (i, s) in trace.stacks.enumerated() where !s.frames.isEmpty || s.allocations > 0 {
            out.append("STACK \(i) allocations=\(s.allocations) bytes=\(s.allocatedBytes) live=\(s.liveCount) live-bytes=\(s.liveBytes) frames=\(s.frames.map(String.init).joined(separator: ","))")
        }
        for a in trace.live { out.append("LIVE \(hex(a.address)) size=\(a.size) stack=\(a.stack)") }
        let t = trace.totals, l = trace.lost
        out.append("TOTALS events=\(t.events) allocations=\(t.allocations) frees=\(t.frees) bytes=\(t.allocatedBytes) peak=\(t.peakLiveBytes) unknown-frees=\(t.unknownFrees) dropped-stack=\(t.droppedStackAllocations)")
        out.append("LOST no-stack=\(l.noStack) stacks-dropped=\(l.stacksDropped) bootstrap=\(l.bootstrapAllocations) failed=\(l.failedAllocations) skipped-words=\(l.skippedWords)")
        for s in trace.samples { out.append("SAMPLE t=\(s.time) rss=\(s.residentBytes) vm=\(s.virtualBytes) heap=\(s.heapBytes)") }
        return out
    }
}
