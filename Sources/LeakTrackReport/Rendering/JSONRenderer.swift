import LeakTrackCore

/// `report --format json`: one object; arrays sorted by bytes, largest first. Documented in README.md.
public struct JSONRenderer: Renderer {
    public init() {}

    /// Writes the report to `out` as it is rendered: the frames of the stacks are made one at a time.
    public func render<Target: TextOutputStream>(_ report: LeakReport, to out: inout Target) {
        let p = report.process
        let sampled = report.sampling != nil
        func withSamples(_ samples: UInt64, _ fields: [String: JSONValue]) -> [String: JSONValue] {
            JSONEncoding.withSamples(samples, fields, sampled: sampled)
        }
        let root: JSONValue = .object([
            "formatVersion": .number(1),
            "process": .object([
                "pid": .number(UInt64(p.pid)), "ppid": .number(UInt64(p.ppid)), "executable": .string(p.executable),
                "arguments": .array(p.arguments.map(JSONValue.string)), "complete": .bool(p.complete),
                "exitStatus": p.exitStatus.map(JSONValue.number) ?? .null,
                "durationMilliseconds": .number(p.durationNanoseconds / 1_000_000),
            ]),
            "leaked": .object(
                withSamples(
                    report.leakedSamples, ["bytes": .number(report.leakedBytes), "count": .number(report.leakedCount)])),
            "sampled": JSONEncoding.sampling(report.sampling),
            "modules": .array(
                report.modules.map { m in
                    .object(
                        withSamples(
                            m.samples,
                            [
                                "module": .string(m.module), "path": .string(m.path), "buildId": .string(m.buildID),
                                "bytes": .number(m.bytes),
                                "count": .number(m.count),
                                "functions": .array(
                                    m.functions.map { f in
                                        .object(
                                            withSamples(
                                                f.samples,
                                                [
                                                    "function": .string(f.function), "bytes": .number(f.bytes),
                                                    "count": .number(f.count),
                                                ]))
                                    }),
                            ]))
                }),
            "grouping": .string(report.grouping.rawValue),
            "callSites": .array(
                report.groups.map { group in
                    var site = JSONEncoding.callSite(group, sampled: sampled)
                    if let growth = group.growth { site.merge(JSONEncoding.growth(growth)) { $1 } }
                    if let age = group.age {
                        site["age"] = .object([
                            "oldestSeconds": .real(age.oldestSeconds), "olderBytes": .number(age.olderBytes),
                        ])
                    }
                    return .object(site)
                }),
            "ageCutoffSeconds": report.ageCutoffSeconds.map(JSONValue.real) ?? .null,
            "isSnapshot": .bool(report.isSnapshot),
            "snapshots": .generated(report.snapshots) { s in
                .object([
                    "index": .number(UInt64(s.index)), "t": .real(Double(s.time) / 1e9), "trigger": .string(s.trigger),
                    "resident": .number(s.residentBytes), "private": .number(s.privateBytes),
                    "virtual": .number(s.virtualBytes), "heapBytes": .number(s.heapBytes),
                    "heapCount": .number(s.heapCount), "allocations": .number(s.allocations),
                ])
            },
            "suppressed": .object([
                "bytes": .number(report.suppressedBytes), "count": .number(report.suppressedCount),
                "reasons": .array(
                    report.suppressed.map {
                        .object(["reason": .string($0.reason), "bytes": .number($0.bytes), "count": .number($0.count)])
                    }),
            ]),
            "internal": .object(["bytes": .number(report.internalBytes), "count": .number(report.internalCount)]),
            "totals": .object([
                "allocations": .number(report.totals.allocations), "frees": .number(report.totals.frees),
                "allocatedBytes": .number(report.totals.allocatedBytes),
                "peakLiveBytes": .number(report.totals.peakLiveBytes),
                "unknownFrees": .number(report.totals.unknownFrees),
            ]),
            "lost": .object([
                "stacksDropped": .number(report.lost.stacksDropped),
                "bootstrapAllocations": .number(report.lost.bootstrapAllocations),
                "failedAllocations": .number(report.lost.failedAllocations),
                "skippedWords": .number(report.lost.skippedWords),
                "droppedStackAllocations": .number(report.totals.droppedStackAllocations),
                "truncatedStacks": .number(UInt64(report.truncatedStacks)),
            ]),
            "symbolization": report.symbolization.map { note in
                .object([
                    "requested": .number(UInt64(note.requested)), "unanswered": .number(UInt64(note.unanswered)),
                    "reason": .string(note.reason),
                ])
            } ?? .null,
            "memory": .generated(report.samples) { sample in
                .object([
                    "t": .real(Double(sample.time) / 1e9), "resident": .number(sample.residentBytes),
                    "private": .number(sample.privateBytes), "virtual": .number(sample.virtualBytes),
                    "heapBytes": .number(sample.heapBytes), "heapCount": .number(sample.heapCount),
                    "available": .number(sample.availableBytes),
                ])
            },
        ])
        root.write(to: &out)
        out.write("\n")
    }
}
