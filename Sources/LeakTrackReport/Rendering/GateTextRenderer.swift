import LeakTrackCore

/// The gate's verdict for people: one verdict line, then each offending call site with its stack and the
/// budget it broke, the baseline's news, the budget rules' usage and the suppressions' matches. Names from
/// traces, baselines and budget files are escaped (see `TextRenderer`).
public struct GateTextRenderer: Renderer {
    public var stackDepth: Int

    public init(stackDepth: Int = 40) { self.stackDepth = stackDepth }

    public func render<Output: TextOutputStream>(_ verdict: GateVerdict, to stream: inout Output) {
        stream.write(text(verdict.result, commandStatus: verdict.commandStatus, estimated: verdict.estimated))
    }

    private func text(_ result: GateResult, commandStatus: Int32?, estimated: Bool) -> String {
        let text = TextRenderer(stackDepth: stackDepth)
        var out = ""
        let leaked =
            "\(formatBytes(result.leakedBytes, estimated: estimated)) in "
            + "\(formatCount(result.leakedCount, estimated: estimated)) allocations leaked"
            + (estimated ? " (estimated: the traces are sampled)" : "")
        if result.passed {
            out += "leaktrack check: PASSED: \(leaked), within budget\n"
        } else {
            let sites = result.offenders.count == 1 ? "1 call site" : "\(result.offenders.count) call sites"
            out += "leaktrack check: FAILED: \(sites) over budget (\(leaked))\n"
        }
        if let commandStatus, commandStatus != 0 {
            out += "the checked command itself failed with exit status \(commandStatus)\n"
        }
        if !result.offenders.isEmpty {
            out += "\nOver budget\n"
            for (rank, offender) in result.offenders.enumerated() {
                out +=
                    "\n"
                    + text.block(offender.site, rank: rank + 1, note: "budget: \(offender.budget)", sampled: estimated)
            }
        }
        if !(result.newSites.isEmpty && result.grownSites.isEmpty && result.shrunkSites.isEmpty
            && result.fixedSites.isEmpty)
        {
            out +=
                "\nAgainst the baseline: \(result.newSites.count) new, \(result.grownSites.count) grown, "
                + "\(result.shrunkSites.count) shrunk, \(result.fixedSites.count) fixed\n"
            func name(_ e: Baseline.Entry) -> String {
                ("\(e.function) [\(e.module)]" + (e.key.file.isEmpty ? "" : " \(e.key.file)")).escapingControlCharacters
            }
            func amount(_ e: Baseline.Entry) -> String { "\(formatBytes(e.bytes)) in \(formatCount(e.count))" }
            for e in result.newSites { out += "  new     \(name(e)): \(amount(e))\n" }
            for c in result.grownSites {
                out += "  grown   \(name(c.now)): \(amount(c.baseline)) -> \(amount(c.now))\n"
            }
            for c in result.shrunkSites {
                out +=
                    "  shrunk  \(name(c.now)): \(amount(c.baseline)) -> \(amount(c.now)) (progress: lower the baseline with --write-baseline)\n"
            }
            for e in result.fixedSites { out += "  fixed   \(name(e)): was \(amount(e))\n" }
        }
        if !result.ruleUsage.isEmpty {
            out += "\nBudget rules\n"
            out += text.table(
                result.ruleUsage.map {
                    [$0.over ? "OVER" : "ok", formatBytes($0.bytes), formatCount($0.count), $0.rule.description]
                }, header: ["", "bytes", "allocations", "rule"])
        }
        if !result.suppressionUsage.isEmpty {
            out += "\nSuppressions\n"
            out += text.table(
                result.suppressionUsage.map {
                    [formatBytes($0.bytes), formatCount($0.count), Suppressions.reasonText(for: $0.rule)]
                }, header: ["bytes", "allocations", "suppression"])
            for rule in result.unusedSuppressions {
                out +=
                    "warning: suppression \(Suppressions.reasonText(for: rule).escapingControlCharacters) matched nothing\n"
            }
        }
        return out
    }
}
