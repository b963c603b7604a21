import CLeakTrackSystem
import Foundation
import LeakTrackCore

#if canImport(Glibc)
    import Glibc
#endif

/// The target's memory counters at one moment, on the stream's clock.
struct ProcessMemory {
    /// Nanoseconds since the stream began.
    var time: UInt64
    var residentBytes: UInt64
    var privateBytes: UInt64 = 0
    var virtualBytes: UInt64
    var availableBytes: UInt64
}

/// The collector's view of one traced process, by a pid the kernel vouched for (the credentials HELLO came
/// with, in our pid namespace): whether it has gone, and its memory, sampled by the collector itself (the
/// shim keeps no thread or descriptor in the program for that).
final class TracedProcess {
    let pid: UInt32
    /// Becomes readable when the process exits; -1 where pidfd_open is not available.
    private let pidfd: Int32
    private let helloMonotonicNanoseconds: UInt64
    /// Kept open and read again from offset 0 at each sample: an open per sample would cost more than the
    /// read. status has all four of the process's counters (VmRSS, VmSize, RssAnon, VmSwap), meminfo the
    /// machine's MemAvailable. Never smaps: reading it walks every page table of the target.
    private let status: Int32
    private let meminfo: Int32
    private var buffer = [UInt8](repeating: 0, count: 8192)

    init(pid: UInt32, helloMonotonicNanoseconds: UInt64) {
        self.pid = pid
        pidfd = lt_pidfd_open(Int32(bitPattern: pid))
        self.helloMonotonicNanoseconds = helloMonotonicNanoseconds
        status = open("/proc/\(pid)/status", O_RDONLY | O_CLOEXEC)
        meminfo = open("/proc/meminfo", O_RDONLY | O_CLOEXEC)
    }

    deinit {
        for fd in [pidfd, status, meminfo] where fd >= 0 { close(fd) }
    }

    /// Whether the process has exited (it may still be a zombie nobody has waited for yet).
    var hasExited: Bool {
        if pidfd >= 0 {
            var poller = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
            return ((try? System.call("poll") { poll(&poller, 1, 0) }) ?? 0) > 0
        }
        return kill(pid_t(pid), 0) != 0 && errno == ESRCH
    }

    /// Nanoseconds since the stream began (HELLO's clock reading), for the collector's monotonic clock
    /// reading `now`: the base the trace's duration has, so ages and durations agree.
    func streamTime(_ now: UInt64) -> UInt64 {
        now &- helloMonotonicNanoseconds
    }

    /// The counters now; nil once the process is gone (its /proc files read nothing).
    func sample() -> ProcessMemory? {
        // A zombie's status has no Vm lines: it has gone as far as its memory goes.
        guard let text = read(status), let resident = Self.field("VmRSS:", in: text) else { return nil }
        var memory = ProcessMemory(
            time: streamTime(monotonicNanoseconds()), residentBytes: resident,
            privateBytes: (Self.field("RssAnon:", in: text) ?? 0) &+ (Self.field("VmSwap:", in: text) ?? 0),
            virtualBytes: Self.field("VmSize:", in: text) ?? 0, availableBytes: 0)
        if let text = read(meminfo) { memory.availableBytes = Self.field("MemAvailable:", in: text) ?? 0 }
        return memory
    }

    private func read(_ fd: Int32) -> ArraySlice<UInt8>? {
        guard fd >= 0 else { return nil }
        let got = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard got > 0 else { return nil }
        return buffer[0..<got]
    }

    /// The first `limit` decimal numbers in `text`.
    private static func numbers(_ text: ArraySlice<UInt8>, limit: Int) -> [UInt64] {
        var values: [UInt64] = [], current: UInt64 = 0, inNumber = false
        for byte in text {
            if byte >= 0x30 && byte <= 0x39 {
                current = current &* 10 &+ UInt64(byte - 0x30)
                inNumber = true
            } else if inNumber {
                values.append(current)
                if values.count == limit { break }
                current = 0
                inNumber = false
            }
        }
        if inNumber && values.count < limit { values.append(current) }
        return values
    }

    /// The value of a "Name:   1234 kB" line, in bytes.
    private static func field(_ name: String, in text: ArraySlice<UInt8>) -> UInt64? {
        let key = Array(name.utf8)
        var i = text.startIndex
        while i < text.endIndex {
            var lineEnd = i
            while lineEnd < text.endIndex && text[lineEnd] != 0x0A { lineEnd += 1 }
            if lineEnd - i > key.count && text[i..<i + key.count].elementsEqual(key) {
                return numbers(text[(i + key.count)..<lineEnd], limit: 1).first.map { $0 &* 1024 }
            }
            i = lineEnd + 1
        }
        return nil
    }
}
