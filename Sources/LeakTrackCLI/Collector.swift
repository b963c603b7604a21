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
        path(for: hello, suffix: attempt > 1 ? String(attempt) : nil)
    }

    func path(for hello: Hello, suffix: String?) -> String {
        let name = hello.executable.split(separator: "/").last.map(String.init) ?? "process"
        return "\(directory)/leaktrack.\(name).\(hello.pid)" + (suffix.map { ".\($0)" } ?? "") + ".trace"
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
    private let heartbeat = RingHeartbeat()

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
    /// waiting. Checked every 50 ms. At most `maxActive` streams are served at once (each holds descriptors);
    /// the others wait in the listener's queue, their records safe in their rings.
    func run(shouldStop: (_ accepted: Int, _ active: Int) -> Bool) {
        let maxActive = max(16, (lt_descriptor_limit() - 64) / 8)
        while true {
            lock.lock()
            let (a, b) = (accepted, active)
            lock.unlock()
            var poller = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            let ready = b < maxActive ? poll(&poller, 1, 50) : 0
            if ready > 0 {
                if !acceptOne() { usleep(20_000) }
                continue
            }
            if b >= maxActive { usleep(20_000) }
            if shouldStop(a, b) || (lt_stop_requested() != 0 && b == 0) { return }
        }
    }

    /// Accepts one connection and serves it on a thread of its own; false if accept failed (out of descriptors).
    private func acceptOne() -> Bool {
        let fd = lt_accept_cloexec(listener)
        guard fd >= 0 else { return errno == EINTR || errno == EAGAIN || errno == ECONNABORTED }
        // Only processes of our own user may talk to us.
        var peer: uid_t = 0
        if lt_peer_uid(fd, &peer) != 0 || peer != getuid() {
            log("refused a connection from uid \(peer)")
            close(fd)
            return true
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
        return true
    }

    /// HELLO, with the ring's memfd and the sender's credentials. The shim closes its end right after.
    private struct Greeting {
        var ringDescriptor: Int32 = -1
        var senderPid: Int32 = 0
        var descriptorsDropped: Int32 = 0
        var failure: String?
    }

    private func receiveHello(_ fd: Int32, _ decoder: inout StreamDecoder, _ session: Session) -> Greeting {
        var greeting = Greeting()
        _ = lt_pass_credentials(fd)
        // HELLO is sent with the connection; one that stays silent (a peer of ours that never speaks) must
        // not hold the collector open.
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 8)
        defer { buffer.deallocate() }
        while decoder.hello == nil {
            let got = lt_receive(fd, buffer.baseAddress, buffer.count, &greeting.ringDescriptor, &greeting.senderPid,
                                 &greeting.descriptorsDropped)
            if got < 0 && errno == EINTR { continue }
            if got <= 0 { break }
            do {
                try decoder.feed(UnsafeRawBufferPointer(rebasing: buffer[0..<got]), into: session)
            } catch {
                greeting.failure = "\(error)"
                break
            }
        }
        return greeting
    }

    private func serve(_ connection: Int32) {
        let session = Session()
        var decoder = StreamDecoder(name: "the stream on connection \(connection)")
        var greeting = receiveHello(connection, &decoder, session)
        close(connection)
        var failure = greeting.failure
        var ring: SharedRing?
        var process: TracedProcess?
        if let hello = decoder.hello {
            decoder.name = "the stream from \(hello.executable) (pid \(hello.pid))"
            // The kernel's word for who sent HELLO, not the pid HELLO claims.
            let pid = UInt32(max(greeting.senderPid, 0))
            if hello.version < LT_WIRE_LIVE_MIN_VERSION {
                failure = "\(decoder.name) comes from an older libleaktrack.so (wire format \(hello.version)); use the one built with this leaktrack"
            } else if greeting.ringDescriptor < 0 {
                failure = greeting.descriptorsDropped != 0
                    ? "\(decoder.name) lost its shared ring: the collector is out of file descriptors (raise ulimit -n)"
                    : "\(decoder.name) came without its shared ring (a shim from another leaktrack version?)"
            } else if pid == 0 {
                failure = "\(decoder.name) came without its sender's credentials (from another pid namespace?)"
            } else {
                do {
                    ring = try SharedRing(fd: greeting.ringDescriptor, log2: hello.ringLog2)
                    process = TracedProcess(pid: pid, helloMonotonicNanoseconds: hello.monotonicNanoseconds)
                    heartbeat.add(ring!)
                    ring!.announce(LT_ACK_HELLO.rawValue)
                } catch {
                    failure = "\(decoder.name): \(error)"
                }
            }
        }
        if greeting.ringDescriptor >= 0 {
            if ring == nil { SharedRing.refuse(fd: greeting.ringDescriptor) }
            close(greeting.ringDescriptor)
            greeting.ringDescriptor = -1
        }
        // Every way out tells the shim we are done with its stream: a process waiting at exit must never wait
        // for nothing (bare mode: only once the trace is stored, so it exists when the program has exited).
        // In record mode that is already done at FINAL; a stream given up on a damaged record gets it here, and
        // the shim, finding DONE while it still runs, knows nobody reads its ring any more.
        defer {
            if let ring {
                ring.announce(LT_ACK_DONE.rawValue)
                heartbeat.remove(ring)
            }
        }
        // A stream that was refused, or a process that connected and exec'd or exited before saying anything
        // (typically a fork child that exec'd at once), leaves nothing to report.
        guard let ring, let process, failure == nil else {
            if let failure { log("dropped a connection: \(failure)") }
            return
        }

        // The records, straight from the shared ring, until FINAL or until the process has gone.
        do {
            try drain(ring, of: process, into: session, decoder: &decoder)
        } catch {
            failure = "\(error)"
        }
        if decoder.sawFinal && !acknowledgeAfterWriting { ring.announce(LT_ACK_DONE.rawValue) }
        if failure == nil, !decoder.sawFinal {
            do { try decoder.finish() } catch { failure = "\(error)" }
        }
        guard let hello = session.hello else { return }
        if let failure { log("\(failure); keeping the \(decoder.byteCount) bytes that arrived before") }
        // A fork child that never allocated (typically one that exec'd at once) leaves no trace, nor does a
        // stream that ended without allocating or saying goodbye (a peer that only sent HELLO).
        if session.totals.allocations == 0 && (hello.forked || !decoder.sawFinal) { return }
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

    /// Reads the ring until FINAL, or until the process has gone (it exited, or exec'd without FINAL and so no
    /// longer maps its ring), sampling its memory every 100 ms. Between batches it sleeps on the ring's wake
    /// word, which the shim counts up after FINAL or when it waits for space.
    private func drain(_ ring: SharedRing, of process: TracedProcess, into session: Session,
                       decoder: inout StreamDecoder) throws {
        var idle: Int32 = 0
        var ended = false
        var nextSample: UInt64 = 0
        var nextMapsCheck = monotonicNanoseconds() + 1_000_000_000
        while !decoder.sawFinal {
            let seen = ring.wakeCount
            // Once the process has gone nobody can publish a claimed record: give such holes up at once.
            let consumed = try ring.drain(processGone: ended) { try decoder.feed($0, into: session) }
            // Asked to stop (SIGTERM): store what has arrived; the program goes on untracked.
            if lt_stop_requested() != 0 { return }
            let now = monotonicNanoseconds()
            if now >= nextSample, !decoder.sawFinal {
                nextSample = now + 100_000_000
                if let tick = process.sample() { try session.apply(.tick(tick)) }
            }
            if consumed > 0 {
                idle = 0
                continue
            }
            if ended { return }
            idle = min(max(idle * 2, 1), 8)
            ring.waitForWake(seen: seen, milliseconds: idle)
            if process.hasExited {
                ended = true // one more drain for what it published last
            } else if now >= nextMapsCheck {
                nextMapsCheck = now + 1_000_000_000
                if ring.isMapped(byProcess: process.pid) == false { ended = true }
            }
        }
    }

    /// Writes the trace under the first free name: a pid that exec'd the same program again, or a trace left
    /// by an earlier run with a recycled pid, moves this one to .2, .3, ... (an existing file is never replaced;
    /// another collector may be writing into the same directory).
    private func store(_ trace: Trace, hello: Hello) throws -> String {
        for attempt in 1...Collector.maxNameAttempts + 100 {
            // Past the predictable names (which anyone who can write to the directory can plant), random ones.
            let path = attempt <= Collector.maxNameAttempts
                ? naming.path(for: hello, attempt: attempt)
                : naming.path(for: hello, suffix: String(UInt64.random(in: 0...UInt64.max), radix: 16))
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
