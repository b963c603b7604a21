/// The gate's verdict as one JSON object (sorted keys), for tools.
public struct GateJSONRenderer {
    public init() {}

    public func render(_ result: GateResult, exitStatus: Int32, commandStatus: Int32? = nil) -> String {
        func site(_ g: LeakGroup) -> JSONValue {
            .object([
                "function": .string(g.function), "module": .string(g.module), "file": .optional(g.file), "line": .optional(g.line),
                "bytes": .number(g.bytes), "count": .number(g.count),
            ])
        }
        func entry(_ e: Baseline.Entry) -> JSONValue {
            .object([
                "function": .string(e.function), "module": .string(e.module), "file": .string(e.key.file),
                "bytes": .number(e.bytes), "count": .number(e.count),
            ])
        }
        func change(_ c: GateResult.Change) -> JSONValue {
            .object(["now": entry(c.now), "baseline": entry(c.baseline)])
        }
        let root = JSONValue.object([
            "passed": .bool(result.passed),
            "exitStatus": .integer(Int(exitStatus)),
            "commandStatus": commandStatus.map { .number(UInt64(UInt32(bitPattern: $0))) } ?? .null,
            "leaked": .object(["bytes": .number(result.leakedBytes), "count": .number(result.leakedCount)]),
            "offenders": .array(result.offenders.map {
                guard case .object(var members) = site($0.site) else { return .null }
                members["budget"] = .string($0.budget)
                members["stack"] = .generated($0.site.stack, { frame in
                    .object(["function": .string(frame.function), "module": .string(frame.module), "file": .optional(frame.file),
                             "line": .optional(frame.line), "inlined": .bool(frame.inlined)])
                })
                return .object(members)
            }),
            "baseline": .object([
                "new": .array(result.newSites.map(entry)), "grown": .array(result.grownSites.map(change)),
                "shrunk": .array(result.shrunkSites.map(change)), "fixed": .array(result.fixedSites.map(entry)),
            ]),
            "rules": .array(result.ruleUsage.map {
                .object(["rule": .string($0.rule.description), "bytes": .number($0.bytes), "count": .number($0.count), "over": .bool($0.over)])
            }),
            "suppressions": .array(result.suppressionUsage.map {
                .object(["suppression": .string(Suppressions.reasonText(for: $0.rule)), "bytes": .number($0.bytes),
                         "count": .number($0.count), "unused": .bool($0.count == 0)])
            }),
        ])
        return root.rendered() + "\n"
    }
}
