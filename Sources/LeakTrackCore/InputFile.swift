#if canImport(Glibc)
    import Glibc
#endif

/// What kind of file leaktrack is reading, and so how large it may be. Every bound on the size of an input
/// file is here.
public enum InputKind: Sendable, Equatable {
    /// A trace file (`report`, `check`, `dump`). `report` holds the decoded trace in memory.
    case trace
    /// A raw shim stream saved to a file (`collect --input`, `dump`): decoded in chunks, never held whole.
    case rawStream
    /// Either of those (`dump`), streamed.
    case traceOrStream
    /// A text file the user wrote (budgets, suppressions, baselines, fold patterns), named for messages.
    case text(String)

    /// Text files are written by hand or by `check --write-baseline`; a 64 MiB one is already absurd.
    public static let textLimit: UInt64 = 64 << 20
    /// Ten million live allocations take 30 MB; a report needs about ten times the trace's size in memory.
    public static let traceLimit: UInt64 = 16 << 30
    /// A raw stream holds every event of a run; it is read in chunks, so only time limits it.
    public static let rawStreamLimit: UInt64 = 1 << 40

    public var limit: UInt64 {
        switch self {
        case .trace: return InputKind.traceLimit
        case .rawStream, .traceOrStream: return InputKind.rawStreamLimit
        case .text: return InputKind.textLimit
        }
    }

    /// How messages name such a file ("trace", "budget file").
    public var name: String {
        switch self {
        case .trace: return "trace"
        case .rawStream: return "stream file"
        case .traceOrStream: return "trace or stream file"
        case .text(let name): return name
        }
    }
}

/// A file opened for reading the one way leaktrack reads files: `O_NONBLOCK` so that opening a FIFO cannot
/// block, `O_CLOEXEC`, then `fstat`, and anything but a regular file (a FIFO, a device such as /dev/zero, a
/// directory) is refused with `LeakTrackError.notRegularFile`. Reads never go beyond `kind.limit` bytes:
/// a larger file, or one that grows past the limit while it is read, is `LeakTrackError.tooLarge`.
public final class InputFile {
    public let path: String
    public let kind: InputKind
    /// The size `fstat` gave at open.
    public let size: UInt64
    private let fd: Int32
    /// Bytes read so far.
    public private(set) var offset: UInt64 = 0

    public init(path: String, kind: InputKind) throws {
        self.path = path
        self.kind = kind
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw LeakTrackError.file(path: path, operation: "open", errno: errno) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let code = errno
            close(fd)
            throw LeakTrackError.file(path: path, operation: "read", errno: code)
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw LeakTrackError.notRegularFile(path: path, kind: kind.name, type: InputFile.typeName(info.st_mode))
        }
        let size = UInt64(clamping: info.st_size)
        guard size <= kind.limit else {
            close(fd)
            throw LeakTrackError.tooLarge(path: path, kind: kind.name, limit: kind.limit)
        }
        self.fd = fd
        self.size = size
    }

    deinit { close(fd) }

    /// Reads up to `buffer.count` bytes; 0 at the end of the file.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard !buffer.isEmpty else { return 0 }
        // One byte beyond the limit is enough to know the file is too large.
        let allowed = kind.limit - min(offset, kind.limit) + 1
        let wanted = Int(min(UInt64(buffer.count), allowed))
        let got = try System.call(
            "read", failure: { [path] in LeakTrackError.file(path: path, operation: "read", errno: $0) }
        ) {
            Glibc.read(fd, buffer.baseAddress, wanted)
        }
        offset += UInt64(got)
        if offset > kind.limit { throw LeakTrackError.tooLarge(path: path, kind: kind.name, limit: kind.limit) }
        return got
    }

    /// Moves the read position to `position` bytes from the start.
    public func seek(to position: UInt64) throws {
        guard position <= kind.limit else {
            throw LeakTrackError.tooLarge(path: path, kind: kind.name, limit: kind.limit)
        }
        guard lseek(fd, off_t(position), SEEK_SET) >= 0 else {
            throw LeakTrackError.file(path: path, operation: "read", errno: errno)
        }
        offset = position
    }

    /// Calls `body` with successive chunks of at most 1 MiB, to the end of the file.
    public func forEachChunk(_ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 8)
        defer { buffer.deallocate() }
        while true {
            let got = try read(into: buffer)
            if got == 0 { return }
            try body(UnsafeRawBufferPointer(rebasing: buffer[0..<got]))
        }
    }

    /// The whole file (for files small enough to hold: `kind.limit` bounds it).
    public func readAll() throws -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(Int(min(size, kind.limit)))
        try forEachChunk { result.append(contentsOf: $0) }
        return result
    }

    /// The whole file as text (invalid UTF-8 becomes U+FFFD).
    public static func text(path: String, kind: String) throws -> String {
        String(decoding: try InputFile(path: path, kind: .text(kind)).readAll(), as: UTF8.self)
    }

    static func typeName(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFIFO: return "a FIFO"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFDIR: return "a directory"
        case S_IFSOCK: return "a socket"
        default: return "a special file"
        }
    }
}
