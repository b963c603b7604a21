import LeakTrackCore

/// The gate as the user configured it: budgets from a file and from flags (the flags win), a baseline, the
/// suppressions. Files are read and checked here, before anything is recorded: a typo in a budget file must
/// not cost a whole recorded run.
public struct GateInputs {
    public var budgetFile: String?
    public var baselineFile: String?
    public var maxLeakedBytes: UInt64?
    public var maxLeaks: UInt64?
    public var tolerancePercent: UInt64
    public var suppressions: [Suppressions.Rule]

    public init(
        budgetFile: String?, baselineFile: String?, maxLeakedBytes: UInt64?, maxLeaks: UInt64?,
        tolerancePercent: UInt64, suppressions: [Suppressions.Rule]
    ) {
        self.budgetFile = budgetFile
        self.baselineFile = baselineFile
        self.maxLeakedBytes = maxLeakedBytes
        self.maxLeaks = maxLeaks
        self.tolerancePercent = tolerancePercent
        self.suppressions = suppressions
    }

    public func makeGate() throws -> LeakGate {
        var gate = LeakGate(tolerancePercent: tolerancePercent, suppressions: suppressions)
        if let budgetFile {
            let file = try BudgetFile.parse(InputFile.text(path: budgetFile, kind: "budget file"), name: budgetFile)
            gate.maxLeakedBytes = file.maxLeakedBytes
            gate.maxLeaks = file.maxLeaks
            gate.rules = file.rules
        }
        if let maxLeakedBytes { gate.maxLeakedBytes = maxLeakedBytes }
        if let maxLeaks { gate.maxLeaks = maxLeaks }
        if let baselineFile {
            gate.baseline = try Baseline.parse(InputFile.text(path: baselineFile, kind: "baseline"), name: baselineFile)
        }
        return gate
    }
}

extension BudgetFile.ParseError: UserFacingError {}
extension Baseline.ParseError: UserFacingError {}

/// Why the gate gives no verdict.
public enum GateError: UserFacingError, Equatable {
    /// A trace that ended without its end record may be missing the very leaks the gate looks for.
    case incompleteTrace(path: String, pid: UInt32)
    /// Estimates cannot prove a budget: a sampled trace can miss a leak (of L bytes with probability
    /// e^(-L / mean)) and can overestimate one.
    case sampledTrace(path: String, meanBytes: UInt64)

    public var description: String {
        switch self {
        case .incompleteTrace(let path, let pid):
            return "the trace \(path) is incomplete (pid \(pid) ended without a clean exit): "
                + "the gate cannot tell that it did not leak"
        case .sampledTrace(let path, let mean):
            return "the trace \(path) is sampled (one allocation per \(formatBytes(mean)) recorded): its leaks are "
                + "estimates, from which no budget can be proven; record it without --sample, or pass "
                + "--allow-estimates to judge the estimates"
        }
    }
}

extension LeakReport {
    /// The gate judges exact figures only, unless told to take estimates (`check --allow-estimates`).
    public static func requireExact(_ reports: [LeakReport], paths: [String]) throws {
        guard let index = reports.firstIndex(where: { $0.sampling != nil }) else { return }
        throw GateError.sampledTrace(path: paths[index], meanBytes: reports[index].sampling!.meanBytes)
    }
}

extension GateResult {
    /// An incomplete trace's leaks fail the gate, but its silence passes nothing: a passing verdict over an
    /// incomplete trace is no verdict. A snapshot is not incomplete: it is the heap of a running process at
    /// a moment someone chose, and the gate judges that moment.
    public func requireCompleteTraces(_ reports: [LeakReport], paths: [String]) throws {
        guard passed, let index = reports.firstIndex(where: { !$0.process.complete && !$0.isSnapshot }) else { return }
        throw GateError.incompleteTrace(path: paths[index], pid: reports[index].process.pid)
    }
}
