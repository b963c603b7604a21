import ArgumentParser
import LeakTrackCore
import LeakTrackReport

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Compare two traces of one program: what each call site holds in both, the largest growth first.")

    @Argument(help: "The older trace.")
    var old: String

    @Argument(help: "The newer trace.")
    var new: String

    @OptionGroup var analysis: AnalysisOptions

    func validate() throws {
        try analysis.require(.text, .json, in: "diff")
    }

    func run() throws {
        let options = try analysis.reportOptions(rules: analysis.suppressionRules())
        let diff = TraceDiff(
            old: LeakReport(trace: try TraceFile.read(path: old), options: options),
            new: LeakReport(trace: try TraceFile.read(path: new), options: options))
        let renderer: any Renderer<TraceDiff> = analysis.format == .json ? DiffJSONRenderer() : DiffTextRenderer()
        var out = BufferedOutput()
        renderer.render(diff, to: &out)
        out.flush()
    }
}
