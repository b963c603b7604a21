import CLeakTrackSystem
import Foundation
import LeakTrackCore

#if canImport(Glibc)
    import Glibc
#endif

/// How `leaktrack snapshot PID` and `leaktrack ps` reach the collector of a traced process: one Unix socket
/// per traced process, PID.sock, in a directory only this user can enter (mode 0700, checked, never
/// followed through a symlink); the collector also refuses a peer of another uid. One request line
/// ("status" or "snapshot"), one JSON line back.
public enum ControlChannel {
    /// $LEAKTRACK_RUNTIME_DIR, else $XDG_RUNTIME_DIR/leaktrack, else /tmp/leaktrack-UID.
    public static func directoryPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let explicit = environment["LEAKTRACK_RUNTIME_DIR"], !explicit.isEmpty { return explicit }
        if let runtime = environment["XDG_RUNTIME_DIR"], !runtime.isEmpty, access(runtime, W_OK) == 0 {
            return runtime + "/leaktrack"
        }
        return "/tmp/leaktrack-\(getuid())"
    }

    /// The directory, created if asked, after checking it is ours and private.
    static func directory(create: Bool) throws -> String {
        let path = directoryPath()
        if create, mkdir(path, 0o700) != 0, errno != EEXIST {
            throw CollectorError.controlDirectory(path: path, problem: String(cString: strerror(errno)))
        }
        var status = stat()
        guard lstat(path, &status) == 0 else {
            throw CollectorError.controlDirectory(path: path, problem: String(cString: strerror(errno)))
        }
        guard (status.st_mode & S_IFMT) == S_IFDIR else {
            throw CollectorError.controlDirectory(path: path, problem: "it is not a directory")
        }
        guard status.st_uid == getuid(), status.st_mode & 0o077 == 0 else {
            throw CollectorError.controlDirectory(
                path: path, problem: "it must belong to uid \(getuid()) with mode 0700 (someone else may read it)")
        }
        return path
    }

    static func socketPath(pid: UInt32, in directory: String) -> String { "\(directory)/\(pid).sock" }

    // MARK: the client side

    /// Sends one request to the collector of `pid` and returns its answer (a JSON object); `timeout` in seconds.
    public static func request(_ command: String, pid: UInt32, timeout: Int = 30) throws -> [String: Any] {
        // No control directory at all: no collector of this user runs.
        var exists = stat()
        guard lstat(directoryPath(), &exists) == 0 else { throw CollectorError.notTraced(pid: pid) }
        let directory = try directory(create: false)
        return try request(command, path: socketPath(pid: pid, in: directory), pid: pid, timeout: timeout)
    }

    static func request(_ command: String, path: String, pid: UInt32, timeout: Int) throws -> [String: Any] {
        let fd = try System.call("socket") {
            socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        defer { close(fd) }
        var address = try PrivateListener.socketAddress(path)
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else {
            if errno == ENOENT || errno == ECONNREFUSED { throw CollectorError.notTraced(pid: pid) }
            throw CollectorError.control(pid: pid, problem: String(cString: strerror(errno)))
        }
        var wait = timeval(tv_sec: timeout, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        let line = Array((command + "\n").utf8)
        guard (line.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == line.count else {
            throw CollectorError.control(pid: pid, problem: "the collector hung up")
        }
        var answer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !answer.contains(0x0A) && answer.count < 1 << 20 {
            let got = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else {
                throw CollectorError.control(
                    pid: pid, problem: got < 0 ? "no answer within \(timeout) s" : "the collector hung up")
            }
            answer += chunk[0..<got]
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(answer)) as? [String: Any] else {
            throw CollectorError.control(pid: pid, problem: "its answer is not JSON")
        }
        if let error = object["error"] as? String { throw CollectorError.control(pid: pid, problem: error) }
        return object
    }

    /// The status of every process this user's collectors trace now; stale sockets (their collector died)
    /// are removed on the way. No directory: nothing is traced; one that is not safe to use is an error.
    public static func statuses() throws -> [[String: Any]] {
        var exists = stat()
        guard lstat(directoryPath(), &exists) == 0 else { return [] }
        let directory = try directory(create: false)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var found: [[String: Any]] = []
        for name in names where name.hasSuffix(".sock") {
            guard let pid = UInt32(name.dropLast(5)) else { continue }
            let path = directory + "/" + name
            do {
                // A collector answers status at once, from what it keeps; one that does not is left out, and so
                // is an answer that is not a traced process's status.
                let status = try request("status", path: path, pid: pid, timeout: 2)
                if status["pid"] is Int, status["program"] is String { found.append(status) }
            } catch CollectorError.notTraced {
                var file = stat()
                if lstat(path, &file) == 0, (file.st_mode & S_IFMT) == S_IFSOCK { unlink(path) }
            } catch {
                continue
            }
        }
        return found.sorted { ($0["pid"] as? Int ?? 0) < ($1["pid"] as? Int ?? 0) }
    }
}

/// The collector's end of one traced process's control socket: a thread that answers requests until closed.
final class ControlServer: @unchecked Sendable {
    private let fd: Int32
    private let path: String
    private let pid: UInt32
    private let started: UInt64
    /// The socket file's identity: a process that exec'd gets a new stream, whose server binds the same path
    /// while this one still runs; this one must not remove that one's socket when it closes.
    private var bound = stat()
    /// Written to by `close` so the serving thread wakes at once (a stream's end must not wait for a poll to
    /// time out: a fork child that never allocated has a stream of a few milliseconds).
    private var wake: [Int32] = [-1, -1]
    private let finished = DispatchSemaphore(value: 0)

    /// Listens at PID.sock; `answer` turns a request line into the JSON object to send back. nil (with the
    /// reason logged) when the socket cannot be made: tracing goes on without it.
    /// `started`: when the process image began its stream. Of the images one pid exec'd, the latest owns the
    /// socket: the connection of an earlier one can reach this point after its successor's (its stream is
    /// about to end anyway), and must then neither replace nor later remove the successor's socket.
    init?(pid: UInt32, started: UInt64, log: (String) -> Void, answer: @escaping @Sendable (String) -> [String: Any]) {
        self.pid = pid
        self.started = started
        var superseded = false
        do {
            let directory = try ControlChannel.directory(create: true)
            path = ControlChannel.socketPath(pid: pid, in: directory)
            fd = try System.call("socket") {
                socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            }
            var address = try PrivateListener.socketAddress(path)
            // A socket left by a collector that died (or by the image this pid exec'd from) is replaced.
            let bound = ControlServer.exclusively(in: directory) { () -> Int32 in
                if let owner = ControlServer.owners[pid], owner > started {
                    superseded = true
                    return -1
                }
                // In bare mode each image a pid exec'd has a collector of its own: the socket may be a later
                // image's, served by another collector that got here first.
                if let theirs = try? ControlChannel.request("status", path: path, pid: pid, timeout: 1),
                    let began = (theirs["started"] as? NSNumber)?.uint64Value, began > started
                {
                    superseded = true
                    return -1
                }
                ControlServer.owners[pid] = started
                unlink(path)
                let bound = withUnsafePointer(to: &address) { pointer in
                    pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                    }
                }
                // Listening before the lock is let go: a socket that refuses connections is taken for stale.
                return bound == 0 && stat(path, &self.bound) == 0 && chmod(path, 0o600) == 0 && listen(fd, 16) == 0
                    ? 0 : -1
            }
            guard bound == 0, pipe(&wake) == 0, fcntl(wake[0], F_SETFD, FD_CLOEXEC) == 0,
                fcntl(wake[1], F_SETFD, FD_CLOEXEC) == 0
            else {
                let problem = String(cString: strerror(errno))
                Glibc.close(fd)
                throw CollectorError.controlDirectory(path: path, problem: problem)
            }
        } catch {
            if !superseded {
                log("no control socket for pid \(pid) (leaktrack snapshot and ps will not see it): \(error)")
            }
            return nil
        }
        let thread = Thread { [self] in
            serve(answer)
            finished.signal()
        }
        thread.start()
    }

    private func serve(_ answer: @escaping (String) -> [String: Any]) {
        while true {
            var pollers = [
                pollfd(fd: fd, events: Int16(POLLIN), revents: 0),
                pollfd(fd: wake[0], events: Int16(POLLIN), revents: 0),
            ]
            guard poll(&pollers, 2, -1) > 0 else { continue }
            if pollers[1].revents != 0 { return }
            let client = lt_accept_cloexec(fd)
            guard client >= 0 else { continue }
            var peer: uid_t = 0
            guard lt_peer_uid(client, &peer) == 0, peer == getuid() else {
                Glibc.close(client)
                continue
            }
            // Each client on a thread of its own: a slow one (or a snapshot being written) holds up neither
            // the others (`ps` asks every process) nor the end of the stream.
            Thread { ControlServer.answer(client, with: answer) }.start()
        }
    }

    /// Reads one request line (within 2 s in all, at most 256 bytes), answers it, and closes the connection.
    private static func answer(_ client: Int32, with answer: (String) -> [String: Any]) {
        defer { Glibc.close(client) }
        let deadline = monotonicNanoseconds() + 2_000_000_000
        var line: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 256)
        reading: while line.count < 256 {
            let now = monotonicNanoseconds()
            guard now < deadline else { return }
            var poller = pollfd(fd: client, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, Int32((deadline - now) / 1_000_000) + 1) > 0 else { continue }
            let got = chunk.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if got < 0 && (errno == EAGAIN || errno == EINTR) { continue }
            guard got > 0 else { return }
            for byte in chunk[0..<got] {
                if byte == 0x0A { break reading }
                line.append(byte)
            }
        }
        let reply = answer(String(decoding: line.prefix(256), as: UTF8.self))
        var data = (try? JSONSerialization.data(withJSONObject: reply, options: [.sortedKeys])) ?? Data("{}".utf8)
        data.append(0x0A)
        _ = data.withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
    }

    /// Stops answering and removes the socket.
    func close() {
        var byte: UInt8 = 1
        _ = write(wake[1], &byte, 1)
        finished.wait()
        Glibc.close(wake[0])
        Glibc.close(wake[1])
        // Removed only if the file is still this server's, checked and removed under the lock that binding
        // takes, and before the socket is closed (after, its inode number could go to the next image's).
        ControlServer.exclusively(in: Locations.directory(of: path)) {
            guard ControlServer.owners[pid] == started else { return }
            ControlServer.owners[pid] = nil
            var now = stat()
            if stat(path, &now) == 0, now.st_ino == bound.st_ino, now.st_dev == bound.st_dev { unlink(path) }
        }
        Glibc.close(fd)
    }

    /// Binding a control socket and removing one, in this collector (the images one pid exec'd are all served
    /// here, and their servers share the path).
    private static let paths = NSLock()

    /// `body` under `paths` and under an exclusive lock on the directory's `.lock` file, which the other
    /// collectors of this user take too (bare mode: one per process image).
    private static func exclusively<T>(in directory: String, _ body: () -> T) -> T {
        paths.withLock {
            let lock = open(directory + "/.lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
            if lock >= 0 { _ = flock(lock, LOCK_EX) }
            defer { if lock >= 0 { Glibc.close(lock) } }
            return body()
        }
    }
    /// The image that owns each pid's socket here, by when its stream began (under `paths`).
    nonisolated(unsafe) private static var owners: [UInt32: UInt64] = [:]
}
