import CLeakTrackSystem
import Foundation
import LeakTrackCore

#if canImport(Glibc)
    import Glibc
#endif

/// The collector's view of one traced process, by a pid the kernel vouched for (the credentials HELLO came
/// with, in our pid namespace): whether it has gone, and its memory, sampled by the collector itself (the
/// shim keeps no thread or descriptor in the program for that).
final class TracedProcess {
    let pid: UInt32
    /// Becomes readable when the process exits; -1 where pidfd_open is not available.
    private let pidfd: Int32
    /// The collector's clock minus the shim's at HELLO, so samples are on the stream's clock.
    private let clockOffset: UInt64

    init(pid: UInt32, helloMonotonicNanoseconds: UInt64) {
        self.pid = pid
        pidfd = lt_pidfd_open(Int32(bitPattern: pid))
        clockOffset = monotonicNanoseconds() &- helloMonotonicNanoseconds
    }

    deinit {
        if pidfd >= 0 { close(pidfd) }
    }

    /// Whether the process has exited (it may still be a zombie nobody has waited for yet).
    var hasExited: Bool {
        if pidfd >= 0 {
            var poller = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
            return ((try? System.call("poll") { poll(&poller, 1, 0) }) ?? 0) > 0
        }
        return kill(pid_t(pid), 0) != 0 && errno == ESRCH
    }

    /// Resident and virtual size from /proc/PID/statm, as a sample on the stream's clock; nil once it is gone.
    func sample() -> MemoryTick? {
        let fd = open("/proc/\(pid)/statm", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var text = [UInt8](repeating: 0, count: 128)
        guard let got = try? System.call("read", { read(fd, &text, text.count - 1) }), got > 0 else { return nil }
        let fields = text[0..<got].split(separator: UInt8(ascii: " ")).prefix(2).map {
            UInt64(String(decoding: $0, as: UTF8.self)) ?? 0
        }
        guard fields.count == 2 else { return nil }
        let page = UInt64(sysconf(Int32(_SC_PAGESIZE)))
        return MemoryTick(
            monotonicNanoseconds: monotonicNanoseconds() &- clockOffset, residentBytes: fields[1] &* page,
            virtualBytes: fields[0] &* page)
    }
}
