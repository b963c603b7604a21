import ArgumentParser
import LeakTrackCollector
import LeakTrackCore
import LeakTrackReport

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Show what a trace leaked: verdict, modules, functions and call sites with stacks.")

    @Argument(help: "Trace file (default: the newest leaktrack.*.trace in the current directory).")
    var trace: String?

    @Option(name: .customLong("by"), help: "Group leaks by callsite, function, module or stack.")
    var grouping: Grouping = .callsite

    @Option(help: "Show at most N groups (and N functions per module).")
    var top: Int?

    @OptionGroup var analysis: AnalysisOptions

    func validate() throws {
        if let top, top < 1 { throw ValidationError("--top must be at least 1") }
        try analysis.require(.text, .json, .folded, in: "report")
    }

    func run() throws {
        let path = try trace ?? TraceStore.newest(in: Locations.requireCurrentDirectory("name the trace file"))
        let loaded = try TraceFile.read(path: path)
        var options = try analysis.reportOptions(rules: analysis.suppressionRules())
        options.grouping = grouping
        options.top = top
        let report = LeakReport(trace: loaded, options: options)
        let renderer: any Renderer<LeakReport> =
            switch analysis.format {
            case .json: JSONRenderer()
            case .folded: FoldedStacksRenderer()
            default: TextRenderer(stackDepth: analysis.stackDepth)
            }
        // Written as it is rendered: a JSON report can hold millions of frames.
        var out = BufferedOutput()
        renderer.render(report, to: &out)
        out.flush()
    }
}
