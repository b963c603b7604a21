/// The CI leak gate: decides whether the leaks of one or more traces are within budget.
///
/// Budgets come in three layers, checked in this order for every call site:
/// 1. With a baseline, only call sites that are new or have grown beyond the tolerance count; a call site
///    that shrank is progress.
/// 2. A call site that a budget rule matches (by function, module or file:line) is judged against that rule:
///    the rule's bytes and count are the sum over every call site it matches.
/// 3. Everything else adds up against the total budget (default: no leaks at all).
/// Suppressed leaks never count; each suppression's matches are counted, and the ones that matched nothing
/// are reported, so stale suppressions do not pile up.
public struct LeakGate: Sendable {
    public var maxLeakedBytes: UInt64?
    public var maxLeaks: UInt64?
    public var rules: [BudgetRule]
    public var baseline: Baseline?
    /// With a baseline: how much a call site may grow, in percent of its baseline bytes and count.
    public var tolerancePercent: UInt64
    /// The user's suppression rules, to count their matches (they are applied by the reports themselves).
    public var suppressions: [Suppressions.Rule]

    public init(
        maxLeakedBytes: UInt64? = nil, maxLeaks: UInt64? = nil, rules: [BudgetRule] = [], baseline: Baseline? = nil,
        tolerancePercent: UInt64 = 0, suppressions: [Suppressions.Rule] = []
    ) {
        self.maxLeakedBytes = maxLeakedBytes
        self.maxLeaks = maxLeaks
        self.rules = rules
        self.baseline = baseline
        self.tolerancePercent = tolerancePercent
        self.suppressions = suppressions
    }

    /// Evaluates the call sites of every report (each built with `Grouping.callsite` and no `top`).
    public func evaluate(_ reports: [LeakReport]) -> GateResult {
        let sites = LeakGate.mergedCallSites(reports)
        var result = GateResult(callSites: sites)

        // 1. The baseline: what it knows and still fits is accepted as it is.
        var judged: [LeakGroup] = []
        if let baseline {
            // Compared per baseline key (module, function, file): the lines of one function add up.
            let current = Baseline(callSites: sites)
            for site in sites {
                let key = CallSiteID(site).at(.baseline)
                guard let now = current.entries[key] else { continue }
                guard let known = baseline.entries[key] else {
                    judged.append(site)
                    continue
                }
                if now.bytes > grown(known.bytes) || now.count > grown(known.count) { judged.append(site) }
            }
            for now in current.entries.values.sorted(by: { $0.key < $1.key }) {
                guard let known = baseline.entries[now.key] else {
                    result.newSites.append(now)
                    continue
                }
                if now.bytes > grown(known.bytes) || now.count > grown(known.count) {
                    result.grownSites.append(GateResult.Change(now: now, baseline: known))
                } else if now.bytes < known.bytes || now.count < known.count {
                    result.shrunkSites.append(GateResult.Change(now: now, baseline: known))
                }
            }
            result.fixedSites = baseline.entries.values.filter { current.entries[$0.key] == nil }.sorted {
                $0.key < $1.key
            }
        } else {
            judged = sites
        }

        // 2. Budget rules, each over the sum of the call sites it matches (the first matching rule wins).
        var perRule = [(bytes: UInt64, count: UInt64, sites: [LeakGroup])](repeating: (0, 0, []), count: rules.count)
        var unruled: [LeakGroup] = []
        for site in judged {
            if let index = rules.firstIndex(where: { $0.matches(site) }) {
                perRule[index].bytes = perRule[index].bytes.saturatingAdd(site.bytes)
                perRule[index].count = perRule[index].count.saturatingAdd(site.count)
                perRule[index].sites.append(site)
            } else {
                unruled.append(site)
            }
        }
        for (index, rule) in rules.enumerated() {
            let usage = perRule[index]
            let over =
                rule.maxBytes.map { usage.bytes > $0 } ?? false || rule.maxCount.map { usage.count > $0 } ?? false
            result.ruleUsage.append(
                GateResult.RuleUsage(rule: rule, bytes: usage.bytes, count: usage.count, over: over))
            if over { result.offenders += usage.sites.map { GateResult.Offender(site: $0, budget: rule.description) } }
        }

        // 3. The total budget for the rest. With a baseline and no explicit total, anything new or grown fails.
        let totalBytes = unruled.reduce(UInt64(0)) { $0.saturatingAdd($1.bytes) }
        let totalCount = unruled.reduce(UInt64(0)) { $0.saturatingAdd($1.count) }
        result.judgedBytes = totalBytes
        result.judgedCount = totalCount
        let limitBytes = maxLeakedBytes ?? 0, limitCount = maxLeaks ?? 0
        if totalBytes > limitBytes || totalCount > limitCount {
            let budget =
                "total: at most \(limitBytes) bytes in \(limitCount) allocations"
                + (baseline == nil ? "" : " beyond the baseline")
            result.offenders += unruled.map { GateResult.Offender(site: $0, budget: budget) }
        }
        result.offenders.sort {
            $0.site.bytes != $1.site.bytes ? $0.site.bytes > $1.site.bytes : $0.site.function < $1.site.function
        }

        // Suppressions: how much each one took out of the reports, and which took nothing.
        for rule in suppressions {
            let reason = Suppressions.reasonText(for: rule)
            var bytes: UInt64 = 0, count: UInt64 = 0
            for report in reports {
                for entry in report.suppressed where entry.reason == reason {
                    bytes = bytes.saturatingAdd(entry.bytes)
                    count = count.saturatingAdd(entry.count)
                }
            }
            result.suppressionUsage.append(GateResult.SuppressionUsage(rule: rule, bytes: bytes, count: count))
        }
        return result
    }

    /// The most a baseline value may grow to (saturating: huge tolerances or values must not trap).
    private func grown(_ value: UInt64) -> UInt64 {
        let (scaled, overflow) = value.multipliedReportingOverflow(by: tolerancePercent)
        return value.saturatingAdd(overflow ? UInt64.max : scaled / 100)
    }

    /// Call sites of several reports (one per process), merged by function, module, file and line.
    static func mergedCallSites(_ reports: [LeakReport]) -> [LeakGroup] {
        var merged: [CallSiteID: LeakGroup] = [:]
        var order: [CallSiteID] = []
        for report in reports {
            for group in report.groups {
                let key = CallSiteID(group)
                if var existing = merged[key] {
                    // Several traces: saturating, as within one report.
                    existing.bytes = existing.bytes.saturatingAdd(group.bytes)
                    existing.count = existing.count.saturatingAdd(group.count)
                    existing.samples = existing.samples.saturatingAdd(group.samples)
                    existing.stacks = (existing.stacks + group.stacks).sorted(by: LeakStack.largerFirst)
                    merged[key] = existing
                } else {
                    merged[key] = group
                    order.append(key)
                }
            }
        }
        return order.compactMap { merged[$0] }.sorted {
            $0.bytes != $1.bytes ? $0.bytes > $1.bytes : $0.function < $1.function
        }
    }
}

/// A source path's last component: what baselines, budget rules and test names call a file.
func fileName(_ path: String) -> String { path.split(separator: "/").last.map(String.init) ?? path }

/// A budget for the call sites whose function, module or source location matches a pattern.
public struct BudgetRule: Equatable, Sendable, CustomStringConvertible {
    public enum Subject: String, Sendable {
        case function, module
        /// `FILE:LINE` (the file's last path component; `*` wildcards) or `FILE` alone.
        case callsite
    }

    public var subject: Subject
    public var pattern: Pattern
    public var maxBytes: UInt64?
    public var maxCount: UInt64?
    /// Where the rule was written (`file:line`), for messages.
    public var origin: String

    public init(subject: Subject, pattern: Pattern, maxBytes: UInt64?, maxCount: UInt64?, origin: String = "") {
        self.subject = subject
        self.pattern = pattern
        self.maxBytes = maxBytes
        self.maxCount = maxCount
        self.origin = origin
    }

    public func matches(_ site: LeakGroup) -> Bool {
        switch subject {
        case .function: return pattern.matches(site.function) || pattern.matches(QualifiedName.of(site.function))
        case .module: return pattern.matches(site.module)
        case .callsite:
            guard let file = site.file else { return false }
            let name = fileName(file)
            return pattern.matches(name) || site.line.map { pattern.matches("\(name):\($0)") } ?? false
        }
    }

    public var description: String {
        var limits: [String] = []
        if let maxBytes { limits.append("\(maxBytes) bytes") }
        if let maxCount { limits.append("\(maxCount) allocations") }
        return "\(subject.rawValue) \(pattern.text): at most " + limits.joined(separator: " and ")
            + (origin.isEmpty ? "" : " (\(origin))")
    }
}

/// What the gate found.
public struct GateResult: Sendable {
    public struct Offender: Sendable {
        public var site: LeakGroup
        /// The budget it broke, in words.
        public var budget: String
    }

    public struct Change: Sendable {
        public var now: Baseline.Entry
        public var baseline: Baseline.Entry
    }

    public struct RuleUsage: Sendable {
        public var rule: BudgetRule
        public var bytes: UInt64
        public var count: UInt64
        public var over: Bool
    }

    public struct SuppressionUsage: Sendable {
        public var rule: Suppressions.Rule
        public var bytes: UInt64
        public var count: UInt64
    }

    /// Every unsuppressed call site, merged over the traces, largest first.
    public var callSites: [LeakGroup]
    public var offenders: [Offender] = []
    public var newSites: [Baseline.Entry] = []
    public var grownSites: [Change] = []
    public var shrunkSites: [Change] = []
    /// Baseline entries with no leak left at all.
    public var fixedSites: [Baseline.Entry] = []
    public var ruleUsage: [RuleUsage] = []
    public var suppressionUsage: [SuppressionUsage] = []
    /// What was held against the total budget.
    public var judgedBytes: UInt64 = 0
    public var judgedCount: UInt64 = 0

    public var passed: Bool { offenders.isEmpty }
    public var leakedBytes: UInt64 { callSites.reduce(UInt64(0)) { $0.saturatingAdd($1.bytes) } }
    public var leakedCount: UInt64 { callSites.reduce(UInt64(0)) { $0.saturatingAdd($1.count) } }
    public var unusedSuppressions: [Suppressions.Rule] { suppressionUsage.filter { $0.count == 0 }.map(\.rule) }
}
