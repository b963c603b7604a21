import CLeakTrackWire

/// The readable form of traces and stream records, shared by `dump` and tests. One line per record: names
/// and arguments from the traced program are escaped.
public enum TraceDump {
    /// Prints a trace file or a raw shim stream as readable lines, one record a line, as it is decoded: memory
    /// stays the same whatever the file's size. A damaged file prints its records up to the damage, then
    /// throws.
    public static func dump(path: String, line: (String) -> Void) throws {
        let input = try InputFile(path: path, kind: .traceOrStream)
        // The first bytes tell a trace (magic "LKTRACE") from a raw stream (HELLO, whose magic ends these bytes).
        var head = [UInt8](repeating: 0, count: Int(LT_HELLO_MAGIC_OFFSET) + Int(LT_WIRE_MAGIC_SIZE))
        var got = 0
        while got < head.count {
            let n = try head.withUnsafeMutableBytes {
                try input.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[got...]))
            }
            if n == 0 { break }
            got += n
        }
        try input.seek(to: 0)
        if got < head.count || TraceFile.looksLikeTrace(head) {
            var reader = ByteReader(file: input)
            try TraceFile.scan(&reader) { item in Self.line(item).map(line) }
        } else {
            var decoder = StreamDecoder(name: path)
            try input.forEachChunk { chunk in try decoder.feed(chunk) { line(Self.line($0)) } }
            try decoder.finish()
        }
    }

    static func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

    /// Arguments as `["app", "-v"]`, each escaped.
    static func list(_ items: [String]) -> String {
        "[" + items.map { "\"" + $0.escapingControlCharacters + "\"" }.joined(separator: ", ") + "]"
    }

    public static func line(_ record: WireRecord) -> String {
        switch record {
        case .hello(let h):
            return
                "HELLO version=\(h.version) pid=\(h.pid) ppid=\(h.ppid) forked=\(h.forked) depth=\(h.maxDepth)\(h.sampleBytes != 0 ? " sample-bytes=\(h.sampleBytes)" : "") exe=\(h.executable.escapingControlCharacters) args=\(list(h.arguments))"
        case .modulesBegin: return "MODULES_BEGIN"
        case .module(let m):
            let segments = m.segments.map { "\(hex($0.lowerBound))-\(hex($0.upperBound))" }.joined(separator: ",")
            return
                "MODULE \(m.path.isEmpty ? "[no file]" : m.path.escapingControlCharacters) bias=\(hex(m.bias)) build-id=\(m.buildID.map { String($0, radix: 16) }.joined()) segments=\(segments)"
        case .modulesEnd: return "MODULES_END"
        case .stack(let id, let frames, let truncated):
            return "STACK \(id) " + frames.map(hex).joined(separator: " ")
                + (truncated ? " (cut at the depth limit)" : "")
        case .alloc(let ptr, let size, let stack, let kind, let thread):
            return "ALLOC \(hex(ptr)) size=\(size) stack=\(stack) via=\(kind.functionName) thread=\(thread)"
        case .free(let ptr): return "FREE \(hex(ptr))"
        case .reallocBegin(let ptr, let tag): return "REALLOC_BEGIN \(hex(ptr)) tag=\(tag)"
        case .reallocEnd(let tag, let ptr, let size, let stack, let failed, let kind, let thread):
            return
                "REALLOC_END tag=\(tag) \(failed ? "FAILED" : hex(ptr)) size=\(size) stack=\(stack) via=\(kind.functionName) thread=\(thread)"
        case .tick(let t): return "TICK t=\(t.monotonicNanoseconds) rss=\(t.residentBytes) vm=\(t.virtualBytes)"
        case .skip(let from, let words): return "SKIP from=\(from) words=\(words)"
        case .thread(let ordinal, let tid, let name):
            return "THREAD \(ordinal) tid=\(tid) name=\"\(name.escapingControlCharacters)\""
        case .final(let c):
            return
                "FINAL no-stack=\(c.noStack) stacks-dropped=\(c.stacksDropped) bootstrap=\(c.bootstrapAllocations) failed=\(c.failedAllocations) skipped-words=\(c.skippedWords) exit=\(c.exitStatus.map(String.init) ?? "unknown")"
        }
    }

    /// The line for one piece of a trace file; nil for what `dump` does not print (section counts, stacks
    /// that never allocated).
    public static func line(_ item: TraceFile.Item) -> String? {
        switch item {
        case .count: return nil
        case .process(let p):
            return
                "PROCESS pid=\(p.pid) ppid=\(p.ppid) exe=\(p.executable.escapingControlCharacters) args=\(list(p.arguments)) complete=\(p.complete) exit=\(p.exitStatus.map(String.init) ?? "unknown") duration-ns=\(p.durationNanoseconds)"
        case .module(let i, let m):
            return "MODULE \(i) \(m.path.escapingControlCharacters) bias=\(hex(m.bias)) build-id=\(m.buildIDHex)"
        case .frame(let i, let f):
            let symbols = f.symbols.map { s in
                (s.inlined ? "inlined " : "") + s.function
                    + (s.file.map { " \($0)" + (s.line.map { ":\($0)" } ?? "") } ?? "")
            }.joined(separator: " <- ").escapingControlCharacters
            return
                "FRAME \(i) \(hex(f.address)) module=\(f.module.map(String.init) ?? "anon") offset=\(hex(f.offset)) \(symbols)"
        case .stack(let i, let s):
            guard !s.frames.isEmpty || s.allocations > 0 else { return nil }
            return
                "STACK \(i) allocations=\(s.allocations) bytes=\(s.allocatedBytes) live=\(s.liveCount) live-bytes=\(s.liveBytes) frames=\(s.frames.map(String.init).joined(separator: ","))"
        case .live(let a): return "LIVE \(hex(a.address)) size=\(a.size) stack=\(a.stack)"
        case .summary(let t, let l):
            return
                "TOTALS events=\(t.events) allocations=\(t.allocations) frees=\(t.frees) bytes=\(t.allocatedBytes) peak=\(t.peakLiveBytes) unknown-frees=\(t.unknownFrees) dropped-stack=\(t.droppedStackAllocations)\n"
                + "LOST no-stack=\(l.noStack) stacks-dropped=\(l.stacksDropped) bootstrap=\(l.bootstrapAllocations) failed=\(l.failedAllocations) skipped-words=\(l.skippedWords)"
        case .sample(let s):
            return
                "SAMPLE t=\(s.time) rss=\(s.residentBytes) private=\(s.privateBytes) vm=\(s.virtualBytes) heap=\(s.heapBytes) count=\(s.heapCount) available=\(s.availableBytes)"
        case .truncatedStack(let i): return "STACK \(i) was cut at the depth limit"
        case .symbolization(let n):
            return
                "SYMBOLIZATION requested=\(n.requested) unanswered=\(n.unanswered) reason=\(n.reason.escapingControlCharacters)"
        case .snapshot(let s):
            return
                "SNAPSHOT \(s.index) t=\(s.time) trigger=\(s.trigger.escapingControlCharacters) rss=\(s.residentBytes) heap=\(s.heapBytes) count=\(s.heapCount) stacks=\(s.stacks.count)"
        case .liveDetail(let i, let stamp, let thread): return "LIVE \(i) stamp=\(stamp) thread=\(thread)"
        case .thread(let t): return "THREAD \(t.ordinal) tid=\(t.tid) name=\(t.name.escapingControlCharacters)"
        case .sampling(let s): return "SAMPLING mean-bytes=\(s.meanBytes) samples=\(s.samples) refused=\(s.refused)"
        }
    }
}
