import ArgumentParser
import Foundation
import LeakTrackCollector
import LeakTrackCore
import LeakTrackReport

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "The CI leak gate: fail when leaks go over budget.",
        discussion: """
            leaktrack check [options] TRACE...         checks traces already recorded
            leaktrack check [options] -- CMD ARGS...   records CMD (like record), then checks every trace it made

            Exit status: 0 within budget; 1 leaks over budget (each offending call site named, with its stack); \
            2 usage or tool error, including a command under which the shim never connected, and a trace that \
            ended without a clean exit; 3 within budget but the checked command itself failed (non-zero status, \
            or killed).
            """)

    /// Trace files, or `--` and the command. Captured as they stand (`--` included: an ArgumentParser command
    /// may have one array of positional arguments, so the `--` is what tells the command from the traces).
    @Argument(parsing: .allUnrecognized, help: "Trace files to check, or after -- the command to record and check.")
    var inputs: [String] = []

    private var separator: Int? { inputs.firstIndex(of: "--") }
    private var traces: [String] { Array(inputs[..<(separator ?? inputs.endIndex)]) }
    private var command: [String] { separator.map { Array(inputs[($0 + 1)...]) } ?? [] }

    @Option(help: "Total leaked bytes allowed, over the call sites no budget rule matches (default 0).")
    var maxLeakedBytes: UInt64?

    @Option(help: "Total leaked allocations allowed, over the call sites no budget rule matches (default 0).")
    var maxLeaks: UInt64?

    @Option(
        help:
            "A budget file: max-leaked-bytes N, max-leaks N, and function|module|callsite PATTERN max-bytes N max-count N lines."
    )
    var budgets: String?

    @Option(help: "Fail only on call sites that are new or grew beyond this baseline (see --write-baseline).")
    var baseline: String?

    @Option(help: "With --baseline: how much a call site may grow, in percent of its baseline bytes and count.")
    var tolerance: UInt64 = 0

    @Option(help: "Write today's leaks per call site to this file (a baseline to commit), then check as usual.")
    var writeBaseline: String?

    @Flag(help: "Judge sampled traces (record --sample) by their estimates; without it they are refused.")
    var allowEstimates = false

    @Option(name: .shortAndLong, help: "Write the output (in --format) to this file instead of standard output.")
    var output: String?

    @Option(
        name: .long, help: "Path of libleaktrack.so for -- CMD (default: beside this executable, or LEAKTRACK_PRELOAD)."
    )
    var preload: String?

    @OptionGroup var analysis: AnalysisOptions

    func validate() throws {
        try analysis.require(.text, .json, .junit, .sarif, in: "check")
        // Captured unrecognized, a mistyped option would be taken for a trace file.
        if let unknown = traces.first(where: { $0.hasPrefix("-") && $0 != "-" }) {
            throw ValidationError("unknown option '\(unknown)'")
        }
        if separator != nil && command.isEmpty {
            throw ValidationError("give the command to check after --, e.g. leaktrack check -- ./tests")
        }
        if traces.isEmpty && command.isEmpty {
            throw ValidationError("give trace files, or a command after --, e.g. leaktrack check -- ./tests")
        }
        if !traces.isEmpty && !command.isEmpty {
            throw ValidationError("give trace files or a command after --, not both")
        }
        if tolerance > 0 && baseline == nil { throw ValidationError("--tolerance applies to --baseline only") }
    }

    func run() throws {
        // The gate's inputs first: a typo in a budget file must not cost a whole recorded run.
        let rules = try analysis.suppressionRules()
        let gate = try GateInputs(
            budgetFile: budgets, baselineFile: baseline, maxLeakedBytes: maxLeakedBytes, maxLeaks: maxLeaks,
            tolerancePercent: tolerance, suppressions: rules
        ).makeGate()
        let options = try analysis.reportOptions(rules: rules)

        var paths = traces
        var commandStatus: Int32?
        if !command.isEmpty {
            var recorder = Recording(command: command, preload: preload)
            // The gate records every allocation, whatever LEAKTRACK_SAMPLE the environment has, unless it is
            // to judge estimates anyway.
            if !allowEstimates { recorder.sampleBytes = 0 }
            // JSON, JUnit and SARIF on our standard output must not be mixed with the command's own output.
            recorder.stdoutToStderr = analysis.format != .text && output == nil
            let recording = try recorder.run { Output.error($0) }
            // A gate that passes because nothing was traced would hide every leak: that is a tool error.
            paths = try recording.storedPaths()
            commandStatus = recording.status
        }

        let reports = try paths.map { LeakReport(trace: try TraceFile.read(path: $0), options: options) }
        if !allowEstimates { try LeakReport.requireExact(reports, paths: paths) }
        let result = gate.evaluate(reports)
        try result.requireCompleteTraces(reports, paths: paths)
        if let writeBaseline {
            try writeFileAtomically(
                Array(Baseline(callSites: result.callSites).encoded().utf8), to: writeBaseline, replacing: true)
            Output.error("wrote the baseline of \(result.callSites.count) call sites to \(writeBaseline)")
        }

        var verdict = GateVerdict(result, commandStatus: commandStatus)
        verdict.estimated = reports.contains { $0.sampling != nil }
        let status = verdict.exitStatus
        let root = FileManager.default.currentDirectoryPath
        let text = GateTextRenderer(stackDepth: analysis.stackDepth)
        let renderer: any Renderer<GateVerdict> =
            switch analysis.format {
            case .text: text
            case .json: GateJSONRenderer()
            case .junit: JUnitRenderer()
            case .sarif: SARIFRenderer(sourceRoot: root, toolVersion: LeakTrack.configuration.version)
            // A report format, which validate() refuses.
            case .folded: throw ValidationError("check does not write --format folded")
            }
        if let output {
            try writeFileAtomically(Array(renderer.render(verdict).utf8), to: output, replacing: true)
            // The verdict still reaches the log.
            Output.error(text.render(verdict).split(separator: "\n").first.map(String.init) ?? "")
        } else {
            Output.print(renderer.render(verdict), closedPipeStatus: status)
        }
        if ProcessEnvironment.get("GITHUB_ACTIONS") == "true" {
            // The runner reads workflow commands from either stream; stdout only while it carries text.
            let annotations = GitHubAnnotations(sourceRoot: ProcessEnvironment.get("GITHUB_WORKSPACE") ?? root).render(
                verdict)
            if analysis.format == .text || output != nil {
                Output.print(annotations, closedPipeStatus: status)
            } else {
                Output.errorRaw(annotations)
            }
        }
        throw ExitCode(status)
    }
}
