import CLeakTrackSystem
import CLeakTrackWire
import Foundation
import LeakTrackCore
import LeakTrackSymbolize

#if canImport(Glibc)
    import Glibc
#endif

/// What the collector stored for one traced process.
struct CollectedTrace {
    var path: String?
    var pid: UInt32
    var executable: String
    var summary: String
    /// The stream ended with the shim's FINAL record (not cut by exec or a kill).
    var complete: Bool
    /// When the process image started its stream (CLOCK_MONOTONIC): orders the images one pid exec'd.
    var started: UInt64 = 0
}

/// Decides where each process's trace goes.
/// Traces are named leaktrack.PROGRAM.PID.trace; a pid that exec'd the same program again gets .2, .3, ...
struct TraceNaming {
    var directory: String

    func path(for hello: Hello, attempt: Int) -> String {
        let name = hello.executable.split(separator: "/").last.map(String.init) ?? "process"
        return "\(directory)/leaktrack.\(name).\(hello.pid)" + (attempt > 1 ? ".\(attempt)" : "") + ".trace"
    }
}

/// The collector: accepts one connection per traced process on a listening Unix socket and turns each stream
/// into a trace file. One thread per connection; a stream is symbolized and written when it ends, and only
/// then does the shim get its final acknowledgement (so the trace is complete when the program exits).
final class Collector {
    private let listener: Int32
    private let naming: TraceNaming
    private let symbolizerPath: String?
    private let log: (String) -> Void
    /// Acknowledge the end of a stream only once its trace is written (bare mode, where nothing else waits
    /// for the collector), rather than as soon as the stream has arrived (record mode, which waits for us).
    private let acknowledgeAfterWriting: Bool
    private let lock = NSLock()
    private var usedPaths = Set<String>()
    private var active = 0
    private var accepted = 0
    private var traces: [CollectedTrace] = []

    init(listener: Int32, naming: TraceNaming, acknowledgeAfterWriting: Bool, log: @escaping (String) -> Void) {
        self.listener = listener
        self.naming = naming
        self.acknowledgeAfterWriting = acknowledgeAfterWriting
        self.symbolizerPath = LLVMSymbolizer.locate()
        self.log = log
        if symbolizerPath == nil {
            log("llvm-symbolizer not found (set LEAKTRACK_SYMBOLIZER or put the Swift toolchain on PATH); traces will have addresses only")
        }
    }

    var collected: [CollectedTrace] {
        lock.lock()
        defer { lock.unlock() }
        return traces
    }

    /// Accepts connections until `shouldStop(accepted, active)` says so at a moment when no connection is
    /// waiting. Checked every 50 ms.
    func run(shouldStop: (_ accepted: Int, _ active: Int) -> Bool) {
        while true {
            var poller = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, 50)
            if ready > 0 {
                acceptOne()
                continue
            }
            lock.lock()
            let (a, b) = (accepted, active)
            lock.unlock()
            if shouldStop(a, b) || (lt_stop_requested() != 0 && b == 0) { return }
        }
    }

    private func acceptOne() {
        let fd = lt_accept_cloexec(listener)
        guard fd >= 0 else { return }
        // Only processes of our own user may talk to us.
        var peer: uid_t = 0
        if lt_peer_uid(fd, &peer) != 0 || peer != getuid() {
            log("refused a connection from uid \(peer)")
            close(fd)
            return
        }
        lock.lock()
        accepted += 1
        active += 1
        lock.unlock()
        let thread = Thread { [self] in
            serve(fd)
            lock.lock()
            active -= 1
            lock.unlock()
        }
        thread.stackSize = 4 << 20
        thread.start()
    }

    private func serve(_ fd: Int32) {
        defer { close(fd) }
        let session = Session()
        var decoder = StreamDecoder(name: "the stream on connection \(fd)")
        var failure: String?
        var ringDescriptor: Int32 = -1
        defer { if ringDescriptor >= 0 { close(ringDescriptor) } }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 8)
        defer { buffer.deallocate() }

        // 1. HELLO arrives over the socket, with the ring's memfd attached.
        while decoder.hello == nil {
            let got = lt_receive(fd, buffer.baseAddress, buffer.count, &ringDescriptor)
            if got < 0 && errno == EINTR { continue }
            if got <= 0 { break }
            do {
                try decoder.feed(UnsafeRawBufferPointer(rebasing: buffer[0..<got]), into: session)
            } catch {
                failure = "\(error)"
                break
            }
        }
        var ring: SharedRing?
        if let hello = decoder.hello {
            decoder.name = "the stream from \(hello.executable) (pid \(hello.pid))"
            if hello.version < LT_WIRE_LIVE_MIN_VERSION {
                failure = "\(decoder.name) comes from an older libleaktrack.so (wire format \(hello.version)); use the one built with this leaktrack"
            } else if ringDescriptor < 0 {
                failure = "\(decoder.name) came without its shared ring (a shim from another leaktrack version?)"
            } else {
                do {
                    ring = try SharedRing(fd: ringDescriptor, log2: hello.ringLog2)
                    acknowledge(ring!, LT_ACK_HELLO.rawValue, on: fd)
                } catch {
                    failure = "\(decoder.name): \(error)"
                }
            }
        }
        // Every way out tells the shim we are done with its stream: a process waiting at exit must never wait
        // for nothing (bare mode: only once the trace is stored, so it exists when the program has exited).
        defer { if let ring, acknowledgeAfterWriting { acknowledge(ring, LT_ACK_DONE.rawValue, on: fd) } }

        // 2. The records, straight from the shared ring, until FINAL or until the process has gone.
        if let ring, let hello = decoder.hello, failure == nil {
            do {
                try drain(ring, of: hello, socket: fd, into: session, decoder: &decoder)
            } catch {
                failure = "\(error)"
            }
            if decoder.sawFinal && !acknowledgeAfterWriting { acknowledge(ring, LT_ACK_DONE.rawValue, on: fd) }
        }
        // A process that connected and exec'd or exited before saying anything (typically a fork child that
        // exec'd at once) leaves nothing to report.
        if decoder.byteCount == 0 { return }
        if failure == nil, !decoder.sawFinal {
            do { try decoder.finish() } catch { failure = "\(error)" }
        }
        guard let hello = session.hello else {
            if let failure { log("dropped a connection: \(failure)") }
            return
        }
        if let failure { log("\(failure); keeping the \(decoder.byteCount) bytes that arrived before") }
        // A fork child that never allocated (typically one that exec'd at once) leaves no trace.
        if hello.forked && session.totals.allocations == 0 { return }
        var path = ""
        do {
            let symbolizer = symbolizerPath.map { LLVMSymbolizer(executable: $0) }
            let trace = try session.makeTrace(symbolizer: symbolizer, endMonotonicNanoseconds: monotonicNanoseconds(), releasingLiveTable: true)
            path = try store(trace, hello: hello)
            // Counted in place: a filtered copy of the live allocations would double the collector's peak.
            var leaked = 0, bytes: UInt64 = 0
            for block in trace.live where block.stack != SpecialStack.none {
                leaked += 1
                bytes = bytes.addingReportingOverflow(block.size).overflow ? .max : bytes + block.size
            }
            let summary = "\(hello.executable) (pid \(hello.pid)): \(trace.totals.allocations) allocations, "
                + "\(leaked) not freed (\(bytes) bytes)" + (trace.process.complete ? "" : ", incomplete")
            lock.lock()
            traces.append(
                CollectedTrace(path: path, pid: hello.pid, executable: hello.executable, summary: summary,
                               complete: trace.process.complete, started: hello.monotonicNanoseconds))
            lock.unlock()
        } catch {
            log("cannot store the trace of pid \(hello.pid): \(error)")
            lock.lock()
            traces.append(
                CollectedTrace(path: nil, pid: hello.pid, executable: hello.executable, summary: "\(error)", complete: false,
                               started: hello.monotonicNanoseconds))
            lock.unlock()
        }
    }

    /// Sets the ring's collector-state word (what the shim waits on), then wakes the shim with the same byte
    /// on the socket.
    private func acknowledge(_ ring: SharedRing, _ state: UInt32, on fd: Int32) {
        ring.announce(state)
        var byte = UInt8(truncatingIfNeeded: state)
        _ = send(fd, &byte, 1, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
    }

    /// Reads the ring until FINAL, or until the process has gone. The socket only wakes us up: a closed socket
    /// ends the stream only if the process no longer maps its ring (it died or exec'd), since a program may
    /// close the shim's descriptors and go on allocating.
    private func drain(_ ring: SharedRing, of hello: Hello, socket fd: Int32, into session: Session,
                       decoder: inout StreamDecoder) throws {
        var idle: Int32 = 0
        var ended = false
        var socketOpen = true
        var nextCheck: UInt64 = 0
        while !decoder.sawFinal {
            let consumed = try ring.drain { try decoder.feed($0, into: session) }
            // Asked to stop (SIGTERM): store what has arrived; the program goes on untracked.
            if lt_stop_requested() != 0 { return }
            if consumed > 0 {
                idle = 0
                continue
            }
            if ended { return }
            // Nothing new: sleep on the socket, which wakes us when the process goes away or sends FINAL.
            idle = min(max(idle * 2, 1), 8)
            if socketOpen {
                var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&poller, 1, idle) > 0 else { continue }
                var bytes = (UInt64(0), UInt64(0))
                let got = withUnsafeMutableBytes(of: &bytes) { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                if got > 0 || (got < 0 && (errno == EAGAIN || errno == EINTR)) { continue }
                socketOpen = false
                ended = ring.isMapped(byProcess: hello.pid) != true
            } else {
                usleep(UInt32(idle) * 1000)
                let now = monotonicNanoseconds()
                if now >= nextCheck {
                    nextCheck = now + 250_000_000
                    ended = ring.isMapped(byProcess: hello.pid) != true
                }
            }
        }
    }

    /// Writes the trace under the first free name: a pid that exec'd the same program again, or a trace left
    /// by an earlier run with a recycled pid, moves this one to .2, .3, ... (an existing file is never replaced;
    /// another collector may be writing into the same directory).
    private func store(_ trace: Trace, hello: Hello) throws -> String {
        for attempt in 1...Collector.maxNameAttempts {
            let path = naming.path(for: hello, attempt: attempt)
            lock.lock()
            let taken = !usedPaths.insert(path).inserted
            lock.unlock()
            if taken { continue }
            do {
                try TraceFile.write(trace, to: path)
                return path
            } catch LeakTrackError.exists {
                continue
            }
        }
        throw LeakTrackError.exists(path: naming.path(for: hello, attempt: Collector.maxNameAttempts))
    }

    static let maxNameAttempts = 1000
}
