import ArgumentParser
import LeakTrackReport

/// Every output format; each command says which it writes.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json, junit, sarif, folded
}

extension Grouping: ExpressibleByArgument {}

/// The flags `report` and `check` share: how a trace is read into call sites, and how the result is written.
struct AnalysisOptions: ParsableArguments {
    @Option(help: "Output format: text or json; report also writes folded (stacks), check junit and sarif.")
    var format: OutputFormat = .text

    @Option(
        help:
            "Treat frames whose function matches PATTERN (* wildcards) as allocator wrappers when choosing call sites. Repeatable."
    )
    var fold: [String] = []

    @Option(help: "A file of fold patterns, one per line (# comments), as with --fold.")
    var foldFile: String?

    @Option(help: "A LeakSanitizer-style suppression file (leak:PATTERN lines, # comments). Repeatable.")
    var suppressions: [String] = []

    @Flag(help: "Also count the C runtime's own start-up allocations as leaks.")
    var noDefaultSuppressions = false

    @Flag(help: "Show C++ and Swift names as the binaries spell them (mangled).")
    var noDemangle = false

    @Option(help: "Frames shown per stack in text output.")
    var stackDepth: Int = 40

    func validate() throws {
        if stackDepth < 1 { throw ValidationError("--stack-depth must be at least 1") }
    }

    func require(_ formats: OutputFormat..., in command: String) throws {
        guard formats.contains(format) else {
            throw ValidationError("\(command) writes --format " + formats.map(\.rawValue).joined(separator: ", "))
        }
    }

    /// The user's suppression rules, read from their files.
    func suppressionRules() throws -> [Suppressions.Rule] {
        try suppressions.flatMap { try SuppressionFile.read(path: $0) }
    }

    /// The report options these flags ask for, with `rules` as the user's suppressions.
    func reportOptions(rules: [Suppressions.Rule]) throws -> ReportOptions {
        var options = ReportOptions()
        options.rules.foldPatterns += fold.map(Pattern.init)
        if let foldFile { options.rules.foldPatterns += try PatternFile.read(path: foldFile).map(Pattern.init) }
        options.demangle = !noDemangle
        options.suppressions = Suppressions(useDefaults: !noDefaultSuppressions, rules: rules)
        return options
    }
}
