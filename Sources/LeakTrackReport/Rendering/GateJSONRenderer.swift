/// The gate's verdict as one JSON object (sorted keys), for tools. Offenders are spelled as report JSON's call
/// sites (`JSONEncoding.callSite`), with the budget they broke.
public struct GateJSONRenderer: Renderer {
    public init() {}

    public func render<Output: TextOutputStream>(_ verdict: GateVerdict, to out: inout Output) {
        let result = verdict.result
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
            "estimated": .bool(verdict.estimated),
            "exitStatus": .integer(Int(verdict.exitStatus)),
            "commandStatus": verdict.commandStatus.map { .number(UInt64(UInt32(bitPattern: $0))) } ?? .null,
            "leaked": .object(["bytes": .number(result.leakedBytes), "count": .number(result.leakedCount)]),
            "offenders": .array(
                result.offenders.map {
                    var members = JSONEncoding.callSite($0.site, sampled: verdict.estimated)
                    members["budget"] = .string($0.budget)
                    return .object(members)
                }),
            "baseline": .object([
                "new": .array(result.newSites.map(entry)), "grown": .array(result.grownSites.map(change)),
                "shrunk": .array(result.shrunkSites.map(change)), "fixed": .array(result.fixedSites.map(entry)),
            ]),
            "rules": .array(
                result.ruleUsage.map {
                    .object([
                        "rule": .string($0.rule.description), "bytes": .number($0.bytes), "count": .number($0.count),
                        "over": .bool($0.over),
                    ])
                }),
            "suppressions": .array(
                result.suppressionUsage.map {
                    .object([
                        "suppression": .string(Suppressions.reasonText(for: $0.rule)), "bytes": .number($0.bytes),
                        "count": .number($0.count), "unused": .bool($0.count == 0),
                    ])
                }),
        ])
        root.write(to: &out)
        out.write("\n")
    }
}
