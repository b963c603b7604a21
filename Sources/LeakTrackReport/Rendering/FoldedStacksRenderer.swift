import LeakTrackCore

/// `report --format folded`: every leaking stack as one line of Brendan Gregg's folded-stack format,
/// `outermost;...;innermost BYTES`, which flamegraph.pl, inferno and speedscope read: a flame graph of who holds
/// the leaked memory. Documented in README.md.
///
/// A frame is its function's name (an inlined function is a frame of its own), escaped like the text report's
/// names so one stack stays one line, with `;` written `\x3b` so it cannot split a frame. Stacks whose names
/// are the same (two lines of one function) are one line with their bytes added; lines are sorted. A stack cut
/// at the shim's depth limit starts at a `[truncated]` frame, and a leak whose stack was not recorded is one
/// frame that says so, as its call site does in the other formats.
public struct FoldedStacksRenderer: Renderer {
    public init() {}

    public func render<Target: TextOutputStream>(_ report: LeakReport, to out: inout Target) {
        var bytes: [String: UInt64] = [:]
        for group in report.groups {
            for stack in group.stacks {
                let line = Self.line(stack)
                bytes[line, default: 0] = bytes[line, default: 0].saturatingAdd(stack.bytes)
            }
        }
        for (line, sum) in bytes.sorted(by: { $0.key < $1.key }) {
            out.write(line)
            out.write(" \(sum)\n")
        }
    }

    /// The frames of `stack`, outermost first, joined by `;`.
    static func line(_ stack: LeakStack) -> String {
        var names = stack.frames.reversed().map { name($0.function) }
        if names.isEmpty { names = [ReportFrame.unrecorded.function] }
        if stack.truncated { names.insert("[truncated]", at: 0) }
        return names.joined(separator: ";")
    }

    static func name(_ function: String) -> String {
        let escaped = function.escapingControlCharacters
        guard escaped.contains(";") else { return escaped }
        return escaped.split(separator: ";", omittingEmptySubsequences: false).joined(separator: "\\x3b")
    }
}
