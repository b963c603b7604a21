/// An error for the user: its description is one sentence that says what is wrong and, where there is
/// something to do, what to do. The command layer prints it and exits with status 2; libraries never exit.
public protocol UserFacingError: Error, CustomStringConvertible {}

/// What can be wrong with leaktrack's data and files: streams, traces, the files the user names.
public enum LeakTrackError: UserFacingError, Equatable {
    /// The bytes are not a leaktrack stream or trace at all.
    case notLeakTrackData(path: String)
    /// Written by a newer leaktrack.
    case newerFormat(what: String, found: UInt32, supported: UInt32)
    /// The data ends in the middle.
    case truncated(what: String)
    /// The data is damaged: a record that cannot be what it claims to be.
    case corrupted(what: String, detail: String)
    /// A file that could not be opened, read or written.
    case file(path: String, operation: String, errno: Int32)
    /// An input that is not a regular file (a FIFO, a device, a directory): reading it could block forever or
    /// never end.
    case notRegularFile(path: String, kind: String, type: String)
    /// An input larger than leaktrack reads for its kind (see `InputKind`).
    case tooLarge(path: String, kind: String, limit: UInt64)
    /// An output file that is already there and must not be replaced.
    case exists(path: String)
    /// A line of a file the user wrote (suppressions, budgets, baselines) that does not say what it must.
    case malformed(path: String, line: Int, detail: String)
    /// A system call failed.
    case system(call: String, errno: Int32)

    public var description: String {
        switch self {
        case .notLeakTrackData(let path):
            return "\(path) is not a leaktrack trace (wrong magic bytes); pass a file written by leaktrack record"
        case .newerFormat(let what, let found, let supported):
            return "\(what) has format version \(found) but this leaktrack reads up to version \(supported); "
                + "use a newer leaktrack to read it"
        case .truncated(let what):
            return "\(what) is truncated: it ends in the middle of a record (was the collector killed?)"
        case .corrupted(let what, let detail):
            return "\(what) is corrupted: \(detail)"
        case .file(let path, let operation, let errno):
            return "cannot \(operation) \(path): \(errnoDescription(errno))"
        case .notRegularFile(let path, let kind, let type):
            return "cannot read \(kind) \(path): it is \(type), not a regular file"
        case .tooLarge(let path, let kind, let limit):
            return
                "cannot read \(kind) \(path): it is larger than \(limit >> 20) MiB, the most leaktrack reads for a \(kind)"
        case .exists(let path):
            return
                "\(path) already exists; leaktrack does not replace files it did not just write (choose another name or remove it)"
        case .malformed(let path, let line, let detail):
            return "\(path):\(line): \(detail)"
        case .system(let call, let errno):
            return "\(call) failed: \(errnoDescription(errno))"
        }
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

func errnoDescription(_ code: Int32) -> String {
    String(cString: strerror(code))
}
