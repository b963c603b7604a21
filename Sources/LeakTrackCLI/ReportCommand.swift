import ArgumentParser
import Foundation
import LeakTrackCore
import LeakTrackReport

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

extension Grouping: ExpressibleByArgument {}

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Show what a trace leaked: verdict, modules, functions and call sites with stacks.")

    @Argument(help: "Trace file (default: the newest leaktrack.*.trace in the current directory).")
    var trace: String?

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    @Option(name: .customLong("by"), help: "Group leaks by callsite, function, module or stack.")
    var grouping: Grouping = .callsite

    @Option(help: "Show at most N groups (and N functions per module).")
    var top: Int?

    @Option(help: "Treat frames whose function matches PATTERN (* wildcards) as allocator wrappers when choosing call sites. Repeatable.")
    var fold: [String] = []

    @Option(help: "A file of fold patterns, one per line (# comments), as with --fold.")
    var foldFile: String?

    @Flag(help: "Show C++ and Swift names as the binaries spell them (mangled).")
    var noDemangle = false

    @Option(help: "A LeakSanitizer-style suppression file (leak:PATTERN lines, # comments).")
    var suppressions: String?

    @Flag(help: "Also count the C runtime's own start-up allocations as leaks.")
    var noDefaultSuppressions = false

    @Option(help: "Frames shown per stack in text output.")
    var stackDepth: Int = 40

    func validate() throws {
        if let top, top < 1 { throw ValidationError("--top must be at least 1") }
        if stackDepth < 1 { throw ValidationError("--stack-depth must be at least 1") }
    }

    func run() throws {
        let path = try trace ?? Locations.newestTrace()
        let loaded = try TraceFile.read(path: path)
        var options = ReportOptions()
        options.grouping = grouping
        options.top = top
        options.rules.foldPatterns += fold.map(Pattern.init)
        if let foldFile { options.rules.foldPatterns += try PatternFile.read(path: foldFile).map(Pattern.init) }
        options.demangle = !noDemangle
        var rules: [Suppressions.Rule] = []
        if let suppressions { rules = try SuppressionFile.read(path: suppressions) }
        options.suppressions = Suppressions(useDefaults: !noDefaultSuppressions, rules: rules)
        let report = LeakReport(trace: loaded, options: options)
        switch format {
        case .text: Output.print(TextRenderer(stackDepth: stackDepth).render(report))
        case .json:
            // Written as it is rendered: a report can hold millions of frames.
            var out = BufferedOutput()
            JSONRenderer().render(report, to: &out)
            out.flush()
        }
    }
}

/// Reads a file of patterns: one per line, `#` comments and blank lines ignored.
enum PatternFile {
    static func read(path: String) throws -> [String] {
        try InputFile.text(path: path, kind: "fold file").split(separator: "\n")
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
    }
}

/// Reads LeakSanitizer-style suppression files: `leak:PATTERN` lines, `#` comments, blank lines.
enum SuppressionFile {
    static func read(path: String) throws -> [Suppressions.Rule] {
        let text = try InputFile.text(path: path, kind: "suppression file")
        var rules: [Suppressions.Rule] = []
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard line.hasPrefix("leak:"), line.count > 5 else {
                throw LeakTrackError.usage("\(path):\(number + 1): expected leak:PATTERN, found \"\(line.excerpt())\"")
            }
            rules.append(Suppressions.Rule(pattern: Pattern(String(line.dropFirst(5))), reason: "\(path):\(number + 1)"))
        }
        return rules
    }
}
