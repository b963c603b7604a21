import ArgumentParser
import LeakTrackCollector
import LeakTrackCore

struct RecordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Run a command under the leaktrack shim and write a trace per process.",
        discussion: """
            The command's standard input, output and error are untouched and its exit status becomes \
            leaktrack's. Every process it starts that inherits LD_PRELOAD (fork children, exec'd programs) is \
            traced on its own connection into its own trace file, named leaktrack.PROGRAM.PID.trace.
            """)

    @Option(
        name: .shortAndLong,
        help:
            "Trace file for the command's own process (default: leaktrack.PROGRAM.PID.trace here); the traces of the other processes go beside it."
    )
    var output: String?

    @Option(name: .long, help: "Path of libleaktrack.so (default: beside this executable, or LEAKTRACK_PRELOAD).")
    var preload: String?

    @Option(name: .long, help: "Stack frames kept per allocation (sets LEAKTRACK_DEPTH, 1-512).")
    var depth: Int?

    @Option(
        help: ArgumentHelp(
            "Record one allocation per SIZE allocated on average (like 512K; at most 64M), scaled back up into "
                + "estimates: for production traffic. 0 records every allocation (the default).",
            valueName: "SIZE"))
    var sample: String?

    @Option(help: "How often the target's memory is sampled (10ms to 1h; default 1s).")
    var interval: String?

    @Option(
        help: ArgumentHelp(
            "Take a snapshot when a counter reaches SIZE, then at every further STEP. Repeatable.",
            valueName: "resident|private|virtual|heap=SIZE[,+STEP]"))
    var snapshotAt: [String] = []

    @Option(help: "Take a snapshot every DURATION (like 10m or 30s).")
    var snapshotEvery: String?

    @Argument(parsing: .captureForPassthrough, help: "The command to run, after --.")
    var command: [String] = []

    /// The command proper: what follows `--`, or everything captured if there was none.
    private var program: [String] { command.first == "--" ? Array(command.dropFirst()) : command }

    func validate() throws {
        // Captured for passthrough, --help would be taken for the command to run.
        if let first = command.first, first == "--help" || first == "-h" { throw CleanExit.helpRequest(self) }
        guard !program.isEmpty else {
            throw ValidationError("give the command to run after --, e.g. leaktrack record -- ./server")
        }
        if let depth, !(1...512).contains(depth) { throw ValidationError("--depth must be from 1 to 512") }
        _ = try plan()
        _ = try sampleBytes()
    }

    /// --sample in bytes; the shim takes at most 64 MiB (beyond, a large leak could go unseen).
    private func sampleBytes() throws -> UInt64? {
        guard let sample else { return nil }
        guard let bytes = Quantities.bytes(sample), bytes <= 64 << 20 else {
            throw ValidationError("--sample takes a size from 0 to 64M, like 512K (got '\(sample)')")
        }
        return bytes
    }

    /// The sampling and snapshot settings the flags ask for.
    private func plan() throws -> SnapshotPlan {
        do {
            var plan = SnapshotPlan()
            if let interval { plan.interval = try SnapshotPlan.interval(interval) }
            plan.rules = try snapshotAt.map { try SnapshotRule.parse($0) }
            if let snapshotEvery { plan.every = try SnapshotPlan.period(snapshotEvery) }
            return plan
        } catch let invalid as SnapshotPlan.Invalid {
            throw ValidationError(invalid.description)
        }
    }

    func run() throws {
        var setup = Recording(command: program, output: output, preload: preload, depth: depth)
        setup.plan = try plan()
        setup.sampleBytes = try sampleBytes()
        let status = StatusLine.onTerminal()
        setup.onSession = status.map { line in { session, ended in line.track(session, ended: ended) } }
        let recording = try setup.run { message in status.map { $0.log(message) } ?? Output.error(message) }
        status?.stop()
        if recording.traces.isEmpty {
            Output.error(CollectorError.nothingConnected(library: recording.library).description)
        }
        for trace in recording.traces {
            if let path = trace.path { Output.error("\(trace.summary) -> \(path)") }
        }
        if let main = recording.traces.last?.path { Output.error("see the report with: leaktrack report \(main)") }
        throw ExitCode(recording.status)
    }
}
