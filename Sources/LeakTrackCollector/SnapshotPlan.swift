import Foundation
import LeakTrackCore

/// When the collector samples a traced process's memory and when it takes snapshots of its heap: DebugDiag's
/// leak rule (thresholds, and every further step), a period, and the sampling interval they are checked at.
public struct SnapshotPlan: Sendable, Equatable {
    /// Nanoseconds between memory samples (default 1 s, at least 10 ms).
    public var interval: UInt64 = 1_000_000_000
    public var rules: [SnapshotRule] = []
    /// Nanoseconds between periodic snapshots; nil for none.
    public var every: UInt64?

    public static let minimumInterval: UInt64 = 10_000_000
    public static let maximumInterval: UInt64 = 3_600_000_000_000

    public init(interval: UInt64 = 1_000_000_000, rules: [SnapshotRule] = [], every: UInt64? = nil) {
        self.interval = interval
        self.rules = rules
        self.every = every
    }

    /// A sentence about what is wrong with a setting.
    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
    }

    /// "1s", "250ms" (10 ms to 1 h).
    public static func interval(_ text: String, setting: String = "--interval") throws -> UInt64 {
        guard let value = Quantities.duration(text), (minimumInterval...maximumInterval).contains(value) else {
            throw Invalid(
                description: "\(setting) must be a duration from 10ms to 1h (like 1s or 250ms), not '\(text)'")
        }
        return value
    }

    /// "10m", "30s" (at least 10 ms).
    public static func period(_ text: String, setting: String = "--snapshot-every") throws -> UInt64 {
        guard let value = Quantities.duration(text), value >= minimumInterval else {
            throw Invalid(
                description: "\(setting) must be a duration of at least 10ms (like 10m or 30s), not '\(text)'")
        }
        return value
    }

    /// The plan bare mode reads from the traced program's environment: LEAKTRACK_INTERVAL,
    /// LEAKTRACK_SNAPSHOT_AT (rules separated by ';') and LEAKTRACK_SNAPSHOT_EVERY.
    public static func fromEnvironment(_ environment: [String: String]) throws -> SnapshotPlan {
        var plan = SnapshotPlan()
        if let text = environment["LEAKTRACK_INTERVAL"], !text.isEmpty {
            plan.interval = try interval(text, setting: "LEAKTRACK_INTERVAL")
        }
        if let text = environment["LEAKTRACK_SNAPSHOT_AT"] {
            plan.rules = try text.split(separator: ";").map {
                try SnapshotRule.parse(String($0), setting: "LEAKTRACK_SNAPSHOT_AT")
            }
        }
        if let text = environment["LEAKTRACK_SNAPSHOT_EVERY"], !text.isEmpty {
            plan.every = try period(text, setting: "LEAKTRACK_SNAPSHOT_EVERY")
        }
        return plan
    }
}

/// "resident=800M,+100M": a snapshot when the counter first reaches 800 MiB, then at every further 100 MiB.
public struct SnapshotRule: Sendable, Equatable {
    public enum Counter: String, CaseIterable, Sendable {
        case resident, `private`, virtual, heap
    }

    public var counter: Counter
    public var first: UInt64
    public var step: UInt64?

    public init(counter: Counter, first: UInt64, step: UInt64? = nil) {
        self.counter = counter
        self.first = first
        self.step = step
    }

    public static func parse(_ text: String, setting: String = "--snapshot-at") throws -> SnapshotRule {
        let usage =
            "\(setting) takes COUNTER=SIZE[,+STEP] with COUNTER one of resident, private, virtual, heap (like resident=800M,+100M)"
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, let counter = Counter(rawValue: parts[0].trimmingCharacters(in: .whitespaces)) else {
            throw SnapshotPlan.Invalid(description: "\(usage), not '\(text)'")
        }
        let sizes = parts[1].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard (1...2).contains(sizes.count), let first = Quantities.bytes(sizes[0]) else {
            throw SnapshotPlan.Invalid(description: "\(usage), not '\(text)'")
        }
        var step: UInt64?
        if sizes.count == 2 {
            let stepText = sizes[1].trimmingCharacters(in: .whitespaces)
            guard stepText.hasPrefix("+"), let value = Quantities.bytes(String(stepText.dropFirst())), value > 0 else {
                throw SnapshotPlan.Invalid(description: "\(usage); the step must be like +100M, not '\(sizes[1])'")
            }
            step = value
        }
        return SnapshotRule(counter: counter, first: first, step: step)
    }

    func value(in sample: MemorySample) -> UInt64 {
        switch counter {
        case .resident: return sample.residentBytes
        case .private: return sample.privateBytes
        case .virtual: return sample.virtualBytes
        case .heap: return sample.heapBytes
        }
    }
}

/// One stream's progress through its plan: the next threshold of each rule and the next periodic snapshot.
struct SnapshotTriggers {
    private let plan: SnapshotPlan
    private var thresholds: [UInt64?]
    private var nextPeriodic: UInt64?

    init(plan: SnapshotPlan) {
        self.plan = plan
        thresholds = plan.rules.map(\.first)
        nextPeriodic = plan.every
    }

    /// The snapshots `sample` calls for, by trigger name ("resident>=800M", "every"). A counter that passed
    /// several steps since the last sample takes one snapshot; its next threshold is the first step above it.
    mutating func due(_ sample: MemorySample) -> [String] {
        var fired: [String] = []
        for (i, rule) in plan.rules.enumerated() {
            guard let threshold = thresholds[i] else { continue }
            let value = rule.value(in: sample)
            guard value >= threshold else { continue }
            fired.append("\(rule.counter.rawValue)>=\(Quantities.shortBytes(threshold))")
            if let step = rule.step {
                let (steps, overflow) = ((value - rule.first) / step + 1).multipliedReportingOverflow(by: step)
                let (next, beyond) = rule.first.addingReportingOverflow(steps)
                thresholds[i] = overflow || beyond ? nil : next
            } else {
                thresholds[i] = nil
            }
        }
        if let period = plan.every, let next = nextPeriodic, sample.time >= next {
            fired.append("every")
            nextPeriodic = (sample.time / period + 1) * period
        }
        return fired
    }
}
