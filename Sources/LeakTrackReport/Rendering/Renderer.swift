/// Every output format is a `Renderer`: report formats render a `LeakReport`, the gate's a `GateVerdict`. A
/// new format is one new file with one type; the CLI picks it by `--format`.
public protocol Renderer<Subject> {
    associatedtype Subject
    /// Writes `subject` to `out`; large formats (JSON of millions of frames) write as they go.
    func render<Output: TextOutputStream>(_ subject: Subject, to out: inout Output)
}

extension Renderer {
    /// The whole rendering as one string (tests, small outputs).
    public func render(_ subject: Subject) -> String {
        var out = ""
        render(subject, to: &out)
        return out
    }
}

/// What the gate's renderers render: its result, and the statuses around it.
public struct GateVerdict: Sendable {
    public var result: GateResult
    /// The checked command's exit status (nil: the gate checked traces recorded earlier).
    public var commandStatus: Int32?
    /// Some of the traces were sampled: the amounts are estimates (`check --allow-estimates`).
    public var estimated = false

    public init(_ result: GateResult, commandStatus: Int32? = nil) {
        self.result = result
        self.commandStatus = commandStatus
    }

    /// check's exit status: 1 over budget, 3 within budget but the command failed, else 0.
    public var exitStatus: Int32 { !result.passed ? 1 : (commandStatus ?? 0) != 0 ? 3 : 0 }
}
