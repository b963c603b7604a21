import LeakTrackCore

/// The human report, in the order of DebugDiag's leak analysis: the verdict, the top modules by bytes and by
/// count, the functions inside each module, then the call sites with their full stacks.
public struct TextRenderer: Renderer {
    public var stackDepth: Int

    /// Runs shorter than this (10 s) get no age notes in text.
    static let agesFrom: UInt64 = 10_000_000_000

    public init(stackDepth: Int = 40) {
        self.stackDepth = stackDepth
    }

    public func render<Output: TextOutputStream>(_ report: LeakReport, to stream: inout Output) {
        stream.write(text(report))
    }

    private func text(_ report: LeakReport) -> String {
        var out = ""
        let p = report.process
        // Everything that came from the traced program or a file is escaped (escapingControlCharacters): a
        // name must not be able to drive the terminal or forge lines of the report. table() escapes its cells.
        let command = (p.arguments.isEmpty ? [p.executable] : p.arguments).map(\.escapingControlCharacters).joined(
            separator: " ")
        out += "leaktrack report: \(command)\n"
        var facts = ["pid \(p.pid)", "ran \(formatDuration(p.durationNanoseconds))"]
        if let status = p.exitStatus { facts.append("exit status \(status)") }
        if let snapshot = report.snapshots.last, report.isSnapshot {
            facts.append(
                "SNAPSHOT \(snapshot.index) (\(snapshot.trigger.escapingControlCharacters)): the process was still running"
            )
        } else if !p.complete {
            facts.append("INCOMPLETE: the process ended without a clean exit; data up to its last flush")
        }
        out += "  " + facts.joined(separator: ", ") + "\n"
        let t = report.totals
        // A sampled trace's amounts are estimates: each is marked, and the verdict says from how many samples.
        let sampled = report.sampling != nil
        let est = sampled ? "~" : ""
        func bytes(_ value: UInt64) -> String { formatBytes(value, estimated: sampled) }
        func count(_ value: UInt64) -> String { formatCount(value, estimated: sampled) }
        out +=
            "  \(count(t.allocations)) allocations (\(bytes(t.allocatedBytes))), \(count(t.frees)) frees, "
            + "peak heap \(bytes(t.peakLiveBytes))\n"
        if let sampling = report.sampling {
            out +=
                "  SAMPLED: one allocation per \(formatBytes(sampling.meanBytes)) allocated on average was recorded "
                + "(\(formatCount(sampling.samples)) samples); amounts marked ~ are estimates\n"
        }
        out += "\n"
        let fromSamples = report.sampling != nil ? " (estimated from \(formatCount(report.leakedSamples)) samples)" : ""

        let growth = GrowthText(text: self)
        if report.hasGrowth { out += growth.verdict(report) }
        if report.isSnapshot {
            out +=
                "\(bytes(report.leakedBytes)) (\(est)\(report.leakedBytes) bytes) in \(count(report.leakedCount)) "
                + "allocations live at this snapshot\(fromSamples)\n"
        } else if report.leakedCount == 0 && !p.complete {
            out +=
                "No leaks in what was recorded; the trace is incomplete, so this does not show that nothing leaked.\n"
        } else if report.leakedCount == 0 {
            out +=
                report.sampling != nil
                ? "No leaks in the samples: every sampled allocation was freed" : "No leaks: every allocation was freed"
            out += report.suppressedCount > 0 ? " (apart from suppressed runtime allocations, below).\n" : ".\n"
        } else {
            out +=
                "LEAK DETECTED: \(bytes(report.leakedBytes)) (\(est)\(report.leakedBytes) bytes) in "
                + "\(count(report.leakedCount)) allocations still allocated at exit\(fromSamples)\n"
        }

        if report.hasGrowth { out += growth.table(report) }
        out += growth.chart(report)

        if !report.modules.isEmpty {
            out += "\nTop modules by leaked bytes\n"
            out += table(
                report.modules.map { [bytes($0.bytes), count($0.count), $0.module, $0.path] },
                header: ["bytes", "allocations", "module", "path"])
            out += "\nTop modules by leaked allocations\n"
            let byCount = report.modules.sorted { ($0.count, $0.bytes) > ($1.count, $1.bytes) }
            out += table(
                byCount.map { [count($0.count), bytes($0.bytes), $0.module] },
                header: ["allocations", "bytes", "module"])
            out += "\nFunctions holding leaked memory, by module\n"
            for module in report.modules {
                out +=
                    "  \(module.module.escapingControlCharacters)  "
                    + "(\(bytes(module.bytes)) in \(count(module.count)) allocations)\n"
                out += table(
                    module.functions.map { [bytes($0.bytes), count($0.count), $0.function] },
                    header: ["bytes", "allocations", "function"], indent: 4)
            }
            out +=
                "\nTop \(heading(report.grouping)) with their allocation stacks"
                + (report.hasGrowth ? ", by growth\n" : "\n")
            for (rank, group) in report.groups.enumerated() {
                var note: String?
                if let g = group.growth, report.hasGrowth {
                    note =
                        "\(g.verdict.rawValue): \(g.bytes.map { formatBytes($0) }.suffix(6).joined(separator: " → "))"
                }
                // Ages say something about runs that last (at 10 ms resolution, a short run's are all "now").
                if let cutoff = report.ageCutoffSeconds, let age = group.age, group.bytes > 0,
                    report.process.durationNanoseconds >= TextRenderer.agesFrom
                {
                    let share = Int((Double(age.olderBytes) / Double(group.bytes) * 100).rounded())
                    note =
                        (note.map { $0 + "; " } ?? "")
                        + "blocks older than \(formatSeconds(cutoff)): \(share)% of its bytes; oldest \(formatSeconds(age.oldestSeconds))"
                }
                out +=
                    "\n"
                    + block(
                        group, rank: rank + 1, naming: report.grouping != .module, note: note,
                        sampled: report.sampling != nil)
            }
        }

        if !report.suppressed.isEmpty {
            out += "\nSuppressed (not counted above; --no-default-suppressions shows them)\n"
            out += table(
                report.suppressed.map { [bytes($0.bytes), count($0.count), $0.reason] },
                header: ["bytes", "allocations", "reason"])
        }
        var notes: [String] = []
        let l = report.lost
        if report.internalCount > 0 {
            notes.append(
                "\(formatCount(report.internalCount)) allocations (\(formatBytes(report.internalBytes))) made by leaktrack's own unwinder are not counted"
            )
        }
        if l.stacksDropped > 0 {
            notes.append(
                "\(formatCount(l.stacksDropped)) allocations have no stack: the stack table was full (raise LEAKTRACK_MAX_STACKS)"
            )
        }
        if l.skippedWords > 0 {
            notes.append("\(formatCount(l.skippedWords)) words of events were lost (a thread stopped mid-record)")
        }
        if l.bootstrapAllocations > 0 {
            notes.append("\(formatCount(l.bootstrapAllocations)) allocations before start-up were not traced")
        }
        if let sampling = report.sampling, sampling.refused > 0 {
            notes.append(
                "\(formatCount(sampling.refused)) sampled allocations were left unrecorded (the shim's table of sampled blocks was full): the estimates are low by about that share; sample less often"
            )
        }
        if t.unknownFrees > 0 {
            notes.append("\(formatCount(t.unknownFrees)) frees of blocks allocated before tracing started")
        }
        if let note = report.symbolization {
            notes.append(
                "\(formatCount(UInt64(note.unanswered))) of \(formatCount(UInt64(note.requested))) frames are unsymbolized: "
                    + note.reason.escapingControlCharacters)
        }
        if !notes.isEmpty {
            out += "\nNotes\n" + notes.map { "  - \($0)\n" }.joined()
        }
        return out
    }

    /// One group: its title line (rank, amount, function, module, place) and its stack.
    /// `sampled`: the amounts are estimates, from `group.samples` sampled blocks.
    func block(_ group: LeakGroup, rank: Int, naming function: Bool = true, note: String? = nil, sampled: Bool = false)
        -> String
    {
        var title =
            "#\(rank)  \(formatBytes(group.bytes, estimated: sampled)) in "
            + "\(formatCount(group.count, estimated: sampled)) allocations"
        if sampled { title += " (\(formatCount(group.samples)) \(group.samples == 1 ? "sample" : "samples"))" }
        if function { title += " at \(group.function.escapingControlCharacters)" }
        title += " [\(group.module.escapingControlCharacters)]"
        if let file = group.file {
            title += "  " + shortPath(file).escapingControlCharacters + (group.line.map { ":\($0)" } ?? "")
        }
        if group.stackCount > 1 { title += "  (\(group.stackCount) stacks; the largest shown)" }
        var out = title + "\n"
        if let note { out += "    \(note.escapingControlCharacters)\n" }
        for (depth, frame) in group.stack.prefix(stackDepth).enumerated() { out += frameLine(frame, depth: depth) }
        if group.stack.count > stackDepth { out += "    ... \(group.stack.count - stackDepth) more frames\n" }
        if group.stackTruncated {
            out +=
                "    ... the stack went deeper: the shim keeps LEAKTRACK_DEPTH frames (128 unless set, at most 512)\n"
        }
        return out
    }

    /// "    #3 (inlined) function  dir/file.c:12  [module]", escaped.
    func frameLine(_ frame: ReportFrame, depth: Int) -> String {
        var line = "    #\(depth) " + (frame.inlined ? "(inlined) " : "") + frame.function.escapingControlCharacters
        if let file = frame.file {
            line += "  " + shortPath(file).escapingControlCharacters + (frame.line.map { ":\($0)" } ?? "")
        }
        return line + "  [\(frame.module.escapingControlCharacters)]\n"
    }

    private func heading(_ grouping: Grouping) -> String {
        switch grouping {
        case .callsite: return "call sites"
        case .function: return "functions"
        case .module: return "modules"
        case .stack: return "stacks"
        }
    }

    func table(_ rows: [[String]], header: [String], indent: Int = 2) -> String {
        let all = [header] + rows.map { $0.map(\.escapingControlCharacters) }
        let widths = (0..<header.count).map { column in all.map { $0[column].count }.max() ?? 0 }
        let pad = String(repeating: " ", count: indent)
        return all.map { row in
            pad
                + row.enumerated().map { column, cell in
                    column == row.count - 1 ? cell : cell.rightPadded(to: widths[column])
                }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }

    func shortPath(_ path: String) -> String {
        // Keep the last two components: enough to find the file, short enough to read.
        let parts = path.split(separator: "/")
        return parts.count > 2 ? parts.suffix(2).joined(separator: "/") : path
    }
}

/// A plain table of text cells (escaped), for commands other than report.
public enum TextTable {
    public static func render(_ rows: [[String]], header: [String]) -> String {
        TextRenderer().table(rows, header: header)
    }
}

public func formatBytes(_ bytes: UInt64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(bytes), unit = 0
    while value >= 1024 && unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    if unit == 0 { return "\(bytes) B" }
    let rounded = (value * 10).rounded() / 10
    return "\(rounded) \(units[unit])"
}

/// An amount that may be an estimate (a sampled trace's): marked "~".
func formatBytes(_ bytes: UInt64, estimated: Bool) -> String { (estimated ? "~" : "") + formatBytes(bytes) }
func formatCount(_ count: UInt64, estimated: Bool) -> String { (estimated ? "~" : "") + formatCount(count) }

public func formatCount(_ count: UInt64) -> String {
    let digits = String(count)
    var out = ""
    for (i, c) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
        out.append(c)
    }
    return out
}

public func formatDuration(_ nanoseconds: UInt64) -> String {
    let seconds = Double(nanoseconds) / 1e9
    if seconds < 1 { return "\(Int((seconds * 1000).rounded())) ms" }
    let whole = Int(seconds.rounded())
    if whole >= 7200 { return "\(whole / 3600) h \(whole / 60 % 60) min" }
    if whole >= 120 { return "\(whole / 60) min \(whole % 60) s" }
    return "\((seconds * 100).rounded() / 100) s"
}
