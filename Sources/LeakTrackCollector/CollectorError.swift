#if canImport(Glibc)
    import Glibc
#endif
import LeakTrackCore

/// What can go wrong in starting a recording or serving a stream, each said as one sentence with what to do.
public enum CollectorError: UserFacingError, Equatable {
    /// A command that could not be started.
    case cannotRun(command: String, errno: Int32)
    /// No process connected: the shim did not load, or the command never started.
    case nothingConnected(library: String)
    /// A traced process's trace could not be written.
    case traceNotStored(pid: UInt32, reason: String)
    /// The directory traces should go into cannot take them.
    case cannotWriteTraces(directory: String, errno: Int32)
    /// `--preload` or LEAKTRACK_PRELOAD names a file that is not there.
    case preloadMissing(path: String)
    /// No libleaktrack.so beside the executable.
    case preloadNotFound(besides: String)
    /// The current directory has no path (too long, or removed).
    case noCurrentDirectory(advice: String)
    /// No trace to report on in a directory.
    case noTrace(directory: String)
    /// The private socket's path would not fit in a sockaddr_un.
    case socketPathTooLong(path: String, limit: Int)
    /// A traced process's shared ring is not what the collector can read safely.
    case ringRefused(reason: String)
    /// The control directory (see ControlChannel) is missing, unsafe, or cannot hold a socket.
    case controlDirectory(path: String, problem: String)
    /// No collector of ours traces this pid.
    case notTraced(pid: UInt32)
    /// The collector of a traced process did not answer as it should.
    case control(pid: UInt32, problem: String)

    public var description: String {
        switch self {
        case .cannotRun(let command, let errno):
            return "cannot run \(command): \(String(cString: strerror(errno)))"
        case .nothingConnected(let library):
            return
                "no process connected: the shim did not load (is \(library) built for this machine?) or the command never started"
        case .traceNotStored(let pid, let reason):
            return "the trace of pid \(pid) could not be stored: \(reason)"
        case .cannotWriteTraces(let directory, let errno):
            return "cannot write traces into \(directory): \(String(cString: strerror(errno)))"
        case .preloadMissing(let path):
            return "the preload library \(path) does not exist"
        case .preloadNotFound(let besides):
            return "cannot find libleaktrack.so beside \(besides); build it with scripts/build or pass --preload PATH"
        case .noCurrentDirectory(let advice):
            return "cannot resolve the current directory (its path is too long, or it was removed); \(advice)"
        case .noTrace(let directory):
            return "no leaktrack.*.trace in \(directory); name a trace file, or record one with leaktrack record -- CMD"
        case .socketPathTooLong(let path, let limit):
            return "the socket path \(path) is longer than \(limit) bytes; set TMPDIR to a shorter directory"
        case .ringRefused(let reason):
            return reason
        case .controlDirectory(let path, let problem):
            return "cannot use the control directory \(path): \(problem)"
        case .notTraced(let pid):
            return "no process with pid \(pid) is traced by leaktrack for this user (see leaktrack ps)"
        case .control(let pid, let problem):
            return "the collector of pid \(pid): \(problem)"
        }
    }
}
