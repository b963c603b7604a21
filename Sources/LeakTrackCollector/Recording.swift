import Foundation
import LeakTrackCore

#if canImport(Glibc)
    import Glibc
#endif

/// Runs a command under the shim, with a collector of our own, and gathers a trace per traced process.
public struct Recording {
    public var command: [String]
    /// The trace of the command's own process; the others go beside it. nil: leaktrack.PROGRAM.PID.trace here.
    public var output: String?
    /// libleaktrack.so (see `Locations.preloadLibrary`).
    public var preload: String?
    /// Stack frames kept per allocation (LEAKTRACK_DEPTH).
    public var depth: Int?
    /// Mean bytes between sampled allocations (LEAKTRACK_SAMPLE); nil leaves the environment's setting.
    public var sampleBytes: UInt64?
    /// The command's standard output goes to our standard error (leaving ours to machine-readable output).
    public var stdoutToStderr = false
    /// Called as streams start and end; see `Collector.Options.onSession`.
    public var onSession: ((LiveSession, _ ended: Bool) -> Void)?
    /// When to sample memory and take snapshots.
    public var plan = SnapshotPlan()

    public init(command: [String], output: String? = nil, preload: String? = nil, depth: Int? = nil) {
        self.command = command
        self.output = output
        self.preload = preload
        self.depth = depth
    }

    public struct Result {
        /// The command's exit status; 128 + N if a signal N killed it.
        public var status: Int32
        /// One per traced process; the command's own (the last program its pid ran) last.
        public var traces: [CollectedTrace]
        /// The shim that was preloaded.
        public var library: String

        /// The paths of every trace, or why there is none for some process.
        public func storedPaths() throws -> [String] {
            guard !traces.isEmpty else { throw CollectorError.nothingConnected(library: library) }
            return try traces.map { trace in
                guard let path = trace.path else {
                    throw CollectorError.traceNotStored(pid: trace.pid, reason: trace.summary)
                }
                return path
            }
        }
    }

    /// Runs the command to its end (and the streams of everything it started), then returns. `log` gets the
    /// collector's messages.
    public func run(log: @escaping (String) -> Void) throws -> Result {
        let library = try Locations.preloadLibrary(explicit: preload)
        // Where traces go, resolved once before anything runs: beside -o's file (so the final rename never
        // crosses file systems nor depends on the current directory being writable), else here.
        let target = try output.map { path -> String in
            if path.hasPrefix("/") { return path }
            return try Locations.requireCurrentDirectory("give -o an absolute path") + "/" + path
        }
        let directory =
            try target.map(Locations.directory(of:))
            ?? Locations.requireCurrentDirectory("run from a shorter directory, or give -o an absolute path")
        // Found out now, not after the whole command has run.
        var status = stat()
        guard stat(directory, &status) == 0, (status.st_mode & S_IFMT) == S_IFDIR, access(directory, W_OK) == 0 else {
            throw CollectorError.cannotWriteTraces(directory: directory, errno: errno)
        }
        let listener = try PrivateListener()
        defer { listener.close() }

        var environment = ProcessInfo.processInfo.environment
        let existing = environment["LD_PRELOAD"].map { $0.isEmpty ? "" : ":" + $0 } ?? ""
        environment["LD_PRELOAD"] = library + existing
        environment["LEAKTRACK_SOCKET"] = listener.path
        environment["LEAKTRACK_DISABLE"] = nil
        if let depth { environment["LEAKTRACK_DEPTH"] = String(depth) }
        if let sampleBytes { environment["LEAKTRACK_SAMPLE"] = String(sampleBytes) }

        // Like `time`, leave Ctrl-C to the command: we finish its trace after it has gone.
        signal(SIGINT, SIG_IGN)
        signal(SIGQUIT, SIG_IGN)
        let child = try ChildProcess.spawn(command, environment: environment, stdoutToStderr: stdoutToStderr)

        let options = Collector.Options(
            store: TraceStore(directory: directory), acknowledgeAfterWriting: false, onSession: onSession, plan: plan)
        let collector = Collector(listener: listener.fd, options: options, log: log)
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
                    log("cannot move the trace to \(target): \(String(cString: strerror(errno))); it stays at \(from)")
                }
            }
            let main = traces.remove(at: index)
            traces.append(main)
        }
        return Result(status: statusBox.value, traces: traces, library: library)
    }
}
