#if canImport(Glibc)
    import Glibc
#endif

// Not in Swift's Glibc module (they need _GNU_SOURCE); the values are Linux's on every architecture Swift runs on.
private let O_TMPFILE_ = 0o20_000_000 | O_DIRECTORY
private let AT_EMPTY_PATH_: Int32 = 0x1000

/// Writes `bytes` to `path` atomically (complete or not at all), never following a symlink at `path`. With
/// `replacing`, an existing file at `path` is replaced; otherwise the write fails with
/// `LeakTrackError.exists` and what is there is left alone.
///
/// No predictable name is ever created: the file is written unnamed (`O_TMPFILE`) in the destination's
/// directory and then linked into place (`linkat`, which fails rather than replace, through
/// /proc/self/fd/N or AT_EMPTY_PATH). Replacing links it under a random name first, then renames that over
/// `path`. Where unnamed files are not supported (some filesystems, old kernels), the temporary file gets an
/// unpredictable name beside `path`, another one if that is taken. (The collector used to write
/// PATH.tmpPID: anyone who can write to the directory, /tmp for example, could plant that name and stop
/// traces from being stored.)
public func writeFileAtomically(_ bytes: [UInt8], to path: String, replacing: Bool = false) throws {
    try AtomicFile(path: path, replacing: replacing).write(bytes)
}

struct AtomicFile {
    let path: String
    let replacing: Bool
    /// False: skip O_TMPFILE, as if unsupported (tests).
    var unnamed = true
    /// The random part of temporary names (tests plant the first ones).
    var randomName: () -> String = {
        var generator = SystemRandomNumberGenerator()
        return String(UInt64.random(in: .min ... .max, using: &generator), radix: 36)
    }

    static let nameAttempts = 100

    var directory: String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    private var baseName: String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    /// A name beside `path` that nobody can guess: ".NAME.tmp-RANDOM".
    func temporaryName() -> String { directory + "/." + baseName + ".tmp-" + randomName() }

    func write(_ bytes: [UInt8]) throws {
        if unnamed {
            let fd = open(directory, O_TMPFILE_ | O_WRONLY | O_CLOEXEC, 0o644)
            if fd >= 0 {
                defer { close(fd) }
                try fill(fd, bytes)
                if try link(fd) { return }
            } else if ![EOPNOTSUPP, EISDIR, EINVAL].contains(errno) {
                // EISDIR and EINVAL: a kernel without O_TMPFILE; EOPNOTSUPP: a filesystem without it.
                throw LeakTrackError.file(path: path, operation: "create", errno: errno)
            }
        }
        try writeNamed(bytes)
    }

    /// Writes everything and flushes it to the disk.
    private func fill(_ fd: Int32, _ bytes: [UInt8]) throws {
        var written = 0
        let failure = { [path] in LeakTrackError.file(path: path, operation: "write", errno: $0) }
        while written < bytes.count {
            written += try System.call("write", failure: failure) {
                bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
            }
        }
        if fsync(fd) != 0 && errno != EINVAL { throw LeakTrackError.file(path: path, operation: "write", errno: errno) }
    }

    /// Gives the unnamed file `fd` its name. False if this system cannot link an unnamed file (no /proc, and
    /// AT_EMPTY_PATH needs a capability), so a named temporary file must do.
    private func link(_ fd: Int32) throws -> Bool {
        func linkat(to target: String) -> Int32 {
            if Glibc.linkat(AT_FDCWD, "/proc/self/fd/\(fd)", AT_FDCWD, target, AT_SYMLINK_FOLLOW) == 0 { return 0 }
            guard errno == ENOENT else { return errno }
            // No /proc: link the descriptor itself.
            return Glibc.linkat(fd, "", AT_FDCWD, target, AT_EMPTY_PATH_) == 0 ? 0 : errno
        }
        let unusable: Set<Int32> = [ENOENT, EPERM, EOPNOTSUPP, EMLINK, ENOSYS, EXDEV]
        if !replacing {
            let code = linkat(to: path)
            if code == 0 { return true }
            if code == EEXIST { throw LeakTrackError.exists(path: path) }
            // ENOENT here: the directory exists (the file was made in it), so it is /proc and AT_EMPTY_PATH.
            if unusable.contains(code) { return false }
            throw LeakTrackError.file(path: path, operation: "create", errno: code)
        }
        for _ in 0..<AtomicFile.nameAttempts {
            let temporary = temporaryName()
            let code = linkat(to: temporary)
            if code == EEXIST { continue }
            if code != 0 {
                if unusable.contains(code) { return false }
                throw LeakTrackError.file(path: path, operation: "create", errno: code)
            }
            defer { unlink(temporary) }
            guard rename(temporary, path) == 0 else {
                throw LeakTrackError.file(path: path, operation: "rename into place", errno: errno)
            }
            return true
        }
        throw LeakTrackError.file(path: path, operation: "find a free temporary name beside", errno: EEXIST)
    }

    /// Without unnamed files: a temporary file under a random name, then `rename` (replacing) or `link`
    /// (which fails rather than replace an existing file or symlink at `path`).
    private func writeNamed(_ bytes: [UInt8]) throws {
        var created: (fd: Int32, name: String)?
        for _ in 0..<AtomicFile.nameAttempts {
            let name = temporaryName()
            let fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o644)
            if fd >= 0 {
                created = (fd, name)
                break
            }
            guard errno == EEXIST else { throw LeakTrackError.file(path: path, operation: "create", errno: errno) }
        }
        guard let (fd, temporary) = created else {
            throw LeakTrackError.file(path: path, operation: "find a free temporary name beside", errno: EEXIST)
        }
        defer { unlink(temporary) }
        do {
            try fill(fd, bytes)
            close(fd)
        } catch {
            close(fd)
            throw error
        }
        if replacing {
            guard rename(temporary, path) == 0 else {
                throw LeakTrackError.file(path: path, operation: "rename into place", errno: errno)
            }
            return
        }
        if Glibc.link(temporary, path) == 0 { return }
        let code = errno
        if code == EEXIST { throw LeakTrackError.exists(path: path) }
        // Filesystems without hard links: reserve the name exclusively, then rename over the reservation.
        guard code == EPERM || code == EOPNOTSUPP || code == EMLINK || code == ENOSYS else {
            throw LeakTrackError.file(path: path, operation: "create", errno: code)
        }
        let reservation = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard reservation >= 0 else {
            if errno == EEXIST { throw LeakTrackError.exists(path: path) }
            throw LeakTrackError.file(path: path, operation: "create", errno: errno)
        }
        close(reservation)
        guard rename(temporary, path) == 0 else {
            let renameCode = errno
            unlink(path)
            throw LeakTrackError.file(path: path, operation: "rename into place", errno: renameCode)
        }
    }
}
