import LeakTrackCore

/// `diff`'s text: both totals, then one row per call site, the largest growth first. Names are escaped.
public struct DiffTextRenderer: Renderer {
    public init() {}

    public func render<Output: TextOutputStream>(_ diff: TraceDiff, to out: inout Output) {
        let text = TextRenderer()
        func signed(_ value: Int64, _ format: (UInt64) -> String) -> String {
            (value < 0 ? "-" : "+") + format(value.magnitude)
        }
        let program = diff.new.process.executable.escapingControlCharacters
        out.write("leaktrack diff: \(program), pid \(diff.old.process.pid) -> pid \(diff.new.process.pid)\n")
        let grownBytes = TraceDiff.delta(diff.new.leakedBytes, diff.old.leakedBytes)
        let grownCount = TraceDiff.delta(diff.new.leakedCount, diff.old.leakedCount)
        out.write(
            "  leaked: \(formatBytes(diff.old.leakedBytes)) in \(formatCount(diff.old.leakedCount)) allocations -> "
                + "\(formatBytes(diff.new.leakedBytes)) in \(formatCount(diff.new.leakedCount)) allocations "
                + "(\(signed(grownBytes, formatBytes)), \(signed(grownCount, formatCount)) allocations)\n")
        if diff.old.sampling != nil || diff.new.sampling != nil {
            let which =
                diff.old.sampling != nil && diff.new.sampling != nil
                ? "both traces are sampled: their"
                : diff.old.sampling != nil
                    ? "the older trace is sampled: its" : "the newer trace is sampled: its"
            out.write("  note: \(which) amounts are estimates\n")
        }
        if diff.old.process.executable != diff.new.process.executable {
            out.write("  note: the older trace is of \(diff.old.process.executable.escapingControlCharacters)\n")
        }
        guard !diff.sites.isEmpty else {
            out.write("\nNo call site holds memory in either trace.\n")
            return
        }
        out.write("\n")
        let rows = diff.sites.map { entry -> [String] in
            let s = entry.site
            let place = s.file.map { " " + fileName($0) + (s.line.map { ":\($0)" } ?? "") } ?? ""
            return [
                signed(entry.deltaBytes, formatBytes), signed(entry.deltaCount, formatCount),
                formatBytes(entry.newBytes), formatCount(entry.newCount), formatBytes(entry.oldBytes),
                formatCount(entry.oldCount), "\(s.function) [\(s.module)]\(place)",
            ]
        }
        out.write(
            text.table(rows, header: ["Δ bytes", "Δ count", "bytes", "count", "was", "count was", "call site"]))
    }
}

/// `diff --format json`: the two totals and every call site, sorted by growth (README documents the fields).
public struct DiffJSONRenderer: Renderer {
    public init() {}

    public func render<Output: TextOutputStream>(_ diff: TraceDiff, to out: inout Output) {
        func side(_ report: LeakReport) -> JSONValue {
            .object([
                "pid": .number(UInt64(report.process.pid)), "executable": .string(report.process.executable),
                "bytes": .number(report.leakedBytes), "count": .number(report.leakedCount),
                "sampled": JSONEncoding.sampling(report.sampling),
            ])
        }
        let root: JSONValue = .object([
            "old": side(diff.old), "new": side(diff.new),
            "callSites": .generated(diff.sites) { entry in
                .object([
                    "function": .string(entry.site.function), "module": .string(entry.site.module),
                    "file": .optional(entry.site.file), "line": .optional(entry.site.line),
                    "bytes": .number(entry.newBytes), "count": .number(entry.newCount),
                    "oldBytes": .number(entry.oldBytes), "oldCount": .number(entry.oldCount),
                    "deltaBytes": .integer(Int(entry.deltaBytes)), "deltaCount": .integer(Int(entry.deltaCount)),
                ])
            },
        ])
        root.write(to: &out)
        out.write("\n")
    }
}
