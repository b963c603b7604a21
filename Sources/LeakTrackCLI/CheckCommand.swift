import ArgumentParser
import Foundation
import LeakTrackCore
import LeakTrackReport

#if canImport(Glibc)
    import Glibc
#endif

enum GateFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json, junit, sarif
}

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "The CI leak gate: fail when leaks go over budget.",
        discussion: """
            leaktrack check [options] TRACE...         checks traces already recorded
            leaktrack check [options] -- CMD ARGS...   records CMD (like record), then checks every trace it made

            Exit status: 0 within budget; 1 leaks over budget (each offending call site named, with its stack); \
            2 usage or tool error, including a command under which the shim never connected; 3 within budget \
            but the checked command itself failed (non-zero status, or killed).
            """)

    /// Trace files, then (after --) the command. One array: ArgumentParser allows a single array positional,
    /// and it appends what follows -- to it, so the command is told apart by the position of -- on the command
    /// line.
    @Argument(help: "Trace files to check, or after -- the command to record and check.")
    var inputs: [String] = []

    private var command: [String] {
        guard let separator = CommandLine.arguments.firstIndex(of: "--") else { return [] }
        return Array(CommandLine.arguments[(separator + 1)...])
    }

    private var traces: [String] { Array(inputs.dropLast(command.count)) }

    @Option(help: "Total leaked bytes allowed, over the call sites no budget rule matches (default 0).")
    var maxLeakedBytes: UInt64?

    @Option(help: "Total leaked allocations allowed, over the call sites no budget rule matches (default 0).")
    var maxLeaks: UInt64?

    @Option(help: "A budget file: max-leaked-bytes N, max-leaks N, and function|module|callsite PATTERN max-bytes N max-count N lines.")
    var budgets: String?

    @Option(help: "A LeakSanitizer-style suppression file (leak:PATTERN lines). Repeatable.")
    var suppressions: [String] = []

    @Flag(help: "Also count the C runtime's own allocations (see report --no-default-suppressions).")
    var noDefaultSuppressions = false

    @Option(help: "Fail only on call sites that are new or grew beyond this baseline (see --write-baseline).")
    var baseline: String?

    @Option(help: "With --baseline: how much a call site may grow, in percent of its baseline bytes and count.")
    var tolerance: UInt64 = 0

    @Option(help: "Write today's leaks per call site to this file (a baseline to commit), then check as usual.")
    var writeBaseline: String?

    @Option(help: "Output format: text, json, junit or sarif.")
    var format: GateFormat = .text

    @Option(name: .shortAndLong, help: "Write the output (in --format) to this file instead of standard output.")
    var output: String?

    @Option(help: "Treat frames whose function matches PATTERN as allocator wrappers when choosing call sites. Repeatable.")
    var fold: [String] = []

    @Option(help: "Frames shown per stack in text output.")
    var stackDepth: Int = 20

    @Option(name: .long, help: "Path of libleaktrack.so for -- CMD (default: beside this executable, or LEAKTRACK_PRELOAD).")
    var preload: String?

    func validate() throws {
        if CommandLine.arguments.contains("--") && command.isEmpty {
            throw ValidationError("give the command to check after --, e.g. leaktrack check -- ./tests")
        }
        if traces.isEmpty && command.isEmpty {
            throw ValidationError("give trace files, or a command after --, e.g. leaktrack check -- ./tests")
        }
        if !traces.isEmpty && !command.isEmpty { throw ValidationError("give trace files or a command after --, not both") }
        if stackDepth < 1 { throw ValidationError("--stack-depth must be at least 1") }
        if tolerance > 0 && baseline == nil { throw ValidationError("--tolerance applies to --baseline only") }
    }

    func run() throws {
        // The gate's inputs first: a typo in a budget file must not cost a whole recorded run.
        var userRules: [Suppressions.Rule] = []
        for file in suppressions { userRules += try SuppressionFile.read(path: file) }
        var gate = LeakGate(tolerancePercent: tolerance, suppressions: userRules)
        if let budgets {
            let file = try parse(budgets, kind: "budget file") { try BudgetFile.parse($0, name: budgets) }
            gate.maxLeakedBytes = file.maxLeakedBytes
            gate.maxLeaks = file.maxLeaks
            gate.rules = file.rules
        }
        if let maxLeakedBytes { gate.maxLeakedBytes = maxLeakedBytes }
        if let maxLeaks { gate.maxLeaks = maxLeaks }
        if let baseline { gate.baseline = try parse(baseline, kind: "baseline") { try Baseline.parse($0, name: baseline) } }

        var paths = traces
        var commandStatus: Int32?
        if !command.isEmpty {
            // JSON, JUnit and SARIF on our standard output must not be mixed with the command's own output.
            var recorder = Recording(command: command, output: nil, preload: preload, depth: nil)
            recorder.stdoutToStderr = format != .text && output == nil
            let recording = try recorder.run()
            // A gate that passes because nothing was traced would hide every leak: that is a tool error.
            guard !recording.traces.isEmpty else { throw LeakTrackError.usage(recording.nothingConnected) }
            for trace in recording.traces where trace.path == nil {
                throw LeakTrackError.usage("the trace of pid \(trace.pid) could not be stored: \(trace.summary)")
            }
            paths = recording.traces.compactMap(\.path)
            commandStatus = recording.status
        }

        var options = ReportOptions()
        options.rules.foldPatterns += fold.map(Pattern.init)
        options.suppressions = Suppressions(useDefaults: !noDefaultSuppressions, rules: userRules)
        let reports = try paths.map { LeakReport(trace: try TraceFile.read(path: $0), options: options) }
        let result = gate.evaluate(reports)
        // A trace that ended without its end record may be missing the very leaks the gate looks for: its
        // leaks fail the gate, but its silence passes nothing.
        if result.passed, let index = reports.firstIndex(where: { !$0.process.complete }) {
            throw LeakTrackError.usage(
                "the trace \(paths[index]) is incomplete (pid \(reports[index].process.pid) ended without a clean exit): "
                    + "the gate cannot tell that it did not leak")
        }

        if let writeBaseline {
            try writeFileAtomically(Array(Baseline(callSites: result.callSites).encoded().utf8), to: writeBaseline, replacing: true)
            Output.error("wrote the baseline of \(result.callSites.count) call sites to \(writeBaseline)")
        }

        let status: Int32 = !result.passed ? 1 : (commandStatus ?? 0) != 0 ? 3 : 0
        let root = FileManager.default.currentDirectoryPath
        let rendered: String
        switch format {
        case .text: rendered = GateTextRenderer(stackDepth: stackDepth).render(result, commandStatus: commandStatus)
        case .json: rendered = GateJSONRenderer().render(result, exitStatus: status, commandStatus: commandStatus)
        case .junit: rendered = JUnitRenderer().render(result, commandStatus: commandStatus)
        case .sarif: rendered = SARIFRenderer(sourceRoot: root, toolVersion: LeakTrack.configuration.version).render(result)
        }
        if let output {
            try writeFileAtomically(Array(rendered.utf8), to: output, replacing: true)
            // The verdict still reaches the log.
            Output.error(GateTextRenderer().render(result, commandStatus: commandStatus).split(separator: "\n").first.map(String.init) ?? "")
        } else {
            Output.print(rendered, closedPipeStatus: status)
        }
        if ProcessEnvironment.get("GITHUB_ACTIONS") == "true" {
            // The runner reads workflow commands from either stream; stdout only while it carries text.
            let annotations = GitHubAnnotations(sourceRoot: ProcessEnvironment.get("GITHUB_WORKSPACE") ?? root).render(result)
            if format == .text || output != nil { Output.print(annotations, closedPipeStatus: status) } else { try? System.writeAll(STDERR_FILENO, annotations) }
        }
        throw ExitCode(status)
    }

    private func parse<T>(_ path: String, kind: String, _ body: (String) throws -> T) throws -> T {
        let text = try InputFile.text(path: path, kind: kind)
        do {
            return try body(text)
        } catch let error as CustomStringConvertible where !(error is LeakTrackError) {
            throw LeakTrackError.usage(error.description)
        }
    }
}
