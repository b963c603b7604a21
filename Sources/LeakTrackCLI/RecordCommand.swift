import ArgumentParser
import Foundation
import LeakTrackCore

#if canImport(Glibc)
    import Glibc
#endif

struct RecordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Run a command under the leaktrack shim and write a trace per process.",
        discussion: """
            The command's standard input, output and error are untouched and its exit status becomes \
            leaktrack's. Every process it starts that inherits LD_PRELOAD (fork children, exec'd programs) is \
            traced on its own connection into its own trace file, named leaktrack.PROGRAM.PID.trace.
            """)

    @Option(name: .shortAndLong, help: "Trace file for the command's own process (default: leaktrack.PROGRAM.PID.trace here); the traces of the other processes go beside it.")
    var output: String?

    @Option(name: .long, help: "Path of libleaktrack.so (default: beside this executable, or LEAKTRACK_PRELOAD).")
    var preload: String?

    @Option(name: .long, help: "Stack frames kept per allocation (sets LEAKTRACK_DEPTH, 1-512).")
    var depth: Int?

    @Argument(parsing: .captureForPassthrough, help: "The command to run, after --.")
    var command: [String] = []

    func validate() throws {
        let args = command.first == "--" ? Array(command.dropFirst()) : command
        guard !args.isEmpty else { throw ValidationError("give the command to run after --, e.g. leaktrack record -- ./server") }
        if let depth, !(1...512).contains(depth) { throw ValidationError("--depth must be from 1 to 512") }
    }

    func run() throws {
        let args = command.first == "--" ? Array(command.dropFirst()) : command
        let recording = try Recording(command: args, output: output, preload: preload, depth: depth).run()
        if recording.traces.isEmpty { Output.error(recording.nothingConnected) }
        for trace in recording.traces {
            if let path = trace.path { Output.error("\(trace.summary) -> \(path)") }
        }
        if let main = recording.traces.last?.path {
            Output.error("see the report with: leaktrack report \(main)")
        }
        throw ExitCode(recording.status)
    }
}

/// Runs a command under the shim, with a collector of our own, and gathers a trace per traced process.
struct Recording {
    var command: [String]
    var output: String?
    var preload: String?
    var depth: Int?
    /// The command's standard output goes to our standard error.
    var stdoutToStderr = false

    struct Result {
        /// The command's exit status; 128 + N if a signal N killed it.
        var status: Int32
        /// One per traced process; the command's own (the last program its pid ran) last.
        var traces: [CollectedTrace]
        /// What to say when no process connected.
        var nothingConnected: String
    }

    func run() throws -> Result {
        let library = try Locations.preloadLibrary(explicit: preload)
        // Where traces go, resolved once before anything runs: beside -o's file (so the final rename never
        // crosses file systems nor depends on the current directory being writable), else here.
        let target = try output.map { path -> String in
            if path.hasPrefix("/") { return path }
            return try Locations.requireCurrentDirectory("give -o an absolute path") + "/" + path
        }
        let directory = try target.map(Locations.directory(of:))
            ?? Locations.requireCurrentDirectory("run from a shorter directory, or give -o an absolute path")
        // Found out now, not after the whole command has run.
        var status = stat()
        guard stat(directory, &status) == 0, (status.st_mode & S_IFMT) == S_IFDIR, access(directory, W_OK) == 0 else {
            throw LeakTrackError.usage("cannot write traces into \(directory): \(String(cString: strerror(errno)))")
        }
        let listener = try System.makePrivateListener()
        defer {
            close(listener.fd)
            System.removeListener(directory: listener.directory, path: listener.path)
        }

        var environment = ProcessInfo.processInfo.environment
        let existing = environment["LD_PRELOAD"].map { $0.isEmpty ? "" : ":" + $0 } ?? ""
        environment["LD_PRELOAD"] = library + existing
        environment["LEAKTRACK_SOCKET"] = listener.path
        environment["LEAKTRACK_DISABLE"] = nil
        if let depth { environment["LEAKTRACK_DEPTH"] = String(depth) }

        // Like `time`, leave Ctrl-C to the command: we finish its trace after it has gone.
        signal(SIGINT, SIG_IGN)
        signal(SIGQUIT, SIG_IGN)
        let child = try ChildProcess.spawn(command, environment: environment, stdoutToStderr: stdoutToStderr)

        let naming = TraceNaming(directory: directory)
        let collector = Collector(listener: listener.fd, naming: naming, acknowledgeAfterWriting: false) { Output.error($0) }
        let exited = Locked(false)
        let statusBox = Locked<Int32>(0)
        let waiter = Thread {
            statusBox.value = ChildProcess.wait(child)
            exited.value = true
        }
        waiter.start()
        collector.run { _, active in exited.value && active == 0 }
        // Ctrl-C belongs to us again once the command has gone (check goes on to analyze).
        signal(SIGINT, SIG_DFL)
        signal(SIGQUIT, SIG_DFL)

        // In the order the process images started (traces are stored in the order their streams end, and a
        // short-lived exec'd image can end before the image that exec'd it).
        var traces = collector.collected.sorted { $0.started < $1.started }
        // The command's own trace: the last program its pid ran (a wrapper script may exec the real one).
        if let index = traces.lastIndex(where: { $0.pid == UInt32(child) && $0.path != nil }) {
            if let target, let from = traces[index].path {
                if rename(from, target) == 0 {
                    traces[index].path = target
                } else {
                    Output.error("cannot move the trace to \(target): \(String(cString: strerror(errno))); it stays at \(from)")
                }
            }
            let main = traces.remove(at: index)
            traces.append(main)
        }
        return Result(
            status: statusBox.value, traces: traces,
            nothingConnected: "no process connected: the shim did not load (is \(library) built for this machine?) or the command never started")
    }
}

enum ChildProcess {
    /// Starts `args` with `environment`, inheriting our standard streams (with `stdoutToStderr`, its standard
    /// output goes to our standard error, leaving ours to machine-readable output); SIGINT and SIGQUIT are
    /// reset to their defaults in the child (we ignore them ourselves).
    static func spawn(_ args: [String], environment: [String: String], stdoutToStderr: Bool = false) throws -> pid_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGINT)
        sigaddset(&defaults, SIGQUIT)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF))

        let argv = args.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if stdoutToStderr { posix_spawn_file_actions_adddup2(&actions, 2, 1) }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, args[0], &actions, &attributes, argv, envp)
        guard rc == 0 else {
            throw LeakTrackError.usage("cannot run \(args[0]): \(String(cString: strerror(rc)))")
        }
        return pid
    }

    /// Waits for the child; returns its exit status, or 128 + signal like a shell.
    static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return 2 }
        }
        let signal = status & 0x7f
        if signal == 0 { return (status >> 8) & 0xff }
        return 128 + signal
    }
}
