import LeakTrackCore

/// The long-running parts of the text report: DebugDiag's verdict on growth, the call sites ranked by it, and
/// Perfmon's view of memory over time as a few lines of Unicode blocks.
struct GrowthText {
    let text: TextRenderer

    /// "leak suspected: CFoo_crtheap in libleakcom.so, +1.2 MiB/h, steady over 8 snapshots", or why not.
    func verdict(_ report: LeakReport) -> String {
        let snapshots = report.snapshots.count
        if let suspect = report.leakSuspect, let growth = suspect.growth {
            return "LEAK SUSPECTED: \(suspect.function.escapingControlCharacters) in "
                + "\(suspect.module.escapingControlCharacters), \(report.sampling != nil ? "~" : "")+\(rate(growth.bytesPerHour))/h, "
                + "\(steadiness(growth.steadiness)) over \(snapshots) snapshots\n"
        }
        let bounded = report.groups.filter { $0.growth?.verdict == .bounded }.count
        return "No call site keeps growing over \(snapshots) snapshots"
            + (bounded > 0 ? " (\(bounded) grew and stopped: caches or pools)" : "") + ".\n"
    }

    /// The call sites that moved, ranked by growth, with their amounts at every snapshot.
    func table(_ report: LeakReport) -> String {
        let moving = report.groups.filter { ($0.growth?.verdict ?? .stable) != .stable }
        guard !moving.isEmpty else { return "" }
        var out = "\nGrowth per call site across the snapshots (\(report.snapshots.count), oldest first)\n"
        let rows = moving.prefix(20).map { group -> [String] in
            let growth = group.growth!
            let place = group.file.map { " " + fileName($0) + (group.line.map { ":\($0)" } ?? "") } ?? ""
            let sampled = report.sampling != nil, est = sampled ? "~" : ""
            let series = growth.bytes.map { formatBytes($0, estimated: sampled) }
            let shown = series.count > 6 ? [series[0], "…"] + series.suffix(4) : series
            var age = ""
            if let cutoff = report.ageCutoffSeconds, let a = group.age, group.bytes > 0 {
                let share = Int((Double(a.olderBytes) / Double(group.bytes) * 100).rounded())
                age = "\(share)% older than \(formatSeconds(cutoff))"
            }
            // A bounded site's straight-line rate says nothing about where it is going: only growth gets one.
            let growing = growth.verdict == .growing
            return [
                growth.verdict.rawValue, growing ? est + "+" + rate(growth.bytesPerHour) + "/h" : "-",
                growing ? est + "+" + rate(growth.bytesPerMillionAllocations) + "/M allocs" : "-",
                String(format2(growth.steadiness)), shown.joined(separator: " → "), age,
                "\(group.function) [\(group.module)]\(place)",
            ]
        }
        out += text.table(
            rows, header: ["verdict", "rate", "per work", "steady", "bytes at each snapshot", "age", "call site"])
        return out
    }

    /// Resident and heap over time, one row of blocks each, and where the snapshots were taken.
    func chart(_ report: LeakReport, width: Int = 60) -> String {
        let samples = report.samples
        // Times come from a file: in order as the collector writes them, but a damaged trace must not trap.
        guard samples.count >= 2, let start = samples.map(\.time).min(), let end = samples.map(\.time).max(),
            end > start
        else { return "" }
        func column(_ time: UInt64) -> Int {
            let offset = Double(min(max(time, start), end) - start) / Double(end - start)
            return min(width - 1, Int(offset * Double(width)))
        }
        func columns(_ value: (MemorySample) -> UInt64) -> [UInt64?] {
            var cells = [UInt64?](repeating: nil, count: width)
            for sample in samples {
                let at = column(sample.time)
                cells[at] = max(cells[at] ?? 0, value(sample))
            }
            // Columns no sample fell in take the value before them.
            var last: UInt64?
            for i in cells.indices {
                if cells[i] == nil { cells[i] = last } else { last = cells[i] }
            }
            return cells
        }
        let blocks = Array(" ▁▂▃▄▅▆▇█")
        // Scaled from the row's lowest to its highest value, like Perfmon's automatic scale: the numbers
        // beside the row say what the bottom and the top are.
        func row(_ cells: [UInt64?]) -> String {
            let values = cells.compactMap { $0 }
            let low = values.min() ?? 0, high = values.max() ?? 0
            return String(
                cells.map { cell -> Character in
                    guard let cell else { return " " }
                    guard high > low else { return blocks[4] }
                    return blocks[1 + Int((Double(cell - low) / Double(high - low) * 7).rounded())]
                })
        }
        let resident = columns(\.residentBytes), heap = columns(\.heapBytes)
        func range(_ cells: [UInt64?]) -> String {
            let values = cells.compactMap { $0 }
            return
                "\(formatBytes(values.first ?? 0)) → \(formatBytes(values.last ?? 0)) "
                + "(\(formatBytes(values.min() ?? 0)) to \(formatBytes(values.max() ?? 0)))"
        }
        var marks = [Character](repeating: " ", count: width)
        for snapshot in report.snapshots where snapshot.time >= start && snapshot.time <= end {
            marks[column(snapshot.time)] = "^"
        }
        let interval = (end - start) / UInt64(samples.count - 1)
        var out = "\nMemory over \(formatDuration(end - start)) (\(samples.count) samples, about every "
        out += "\(formatDuration(interval)); ^ = snapshot)\n"
        out += "  resident │\(row(resident))│ \(range(resident))\n"
        out += "  heap     │\(row(heap))│ \(range(heap))\n"
        if !report.snapshots.isEmpty { out += "  snapshot  \(String(marks))\n" }
        return out
    }

    private func rate(_ bytesPer: Double) -> String {
        bytesPer <= 0 ? "0 B" : formatBytes(UInt64(min(bytesPer, 1.8e19)))
    }

    private func steadiness(_ r2: Double) -> String {
        r2 >= 0.95 ? "steady" : r2 >= 0.8 ? "fairly steady" : "unsteady"
    }

    private func format2(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        return "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100)"
    }
}

func formatSeconds(_ seconds: Double) -> String {
    // From a file: any value at all (nan included) must print, not trap.
    let nanoseconds = seconds * 1e9
    guard nanoseconds.isFinite, nanoseconds > 0 else { return formatDuration(0) }
    return formatDuration(nanoseconds >= 1.8e19 ? UInt64.max : UInt64(nanoseconds))
}
