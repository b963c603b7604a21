import CLeakTrackSystem
import CLeakTrackWire
import Foundation
import LeakTrackCore
import LeakTrackSymbolize

#if canImport(Glibc)
    import Glibc
#endif

/// One traced process's stream, on its connection's thread: HELLO (with the ring's memfd and the sender's
/// credentials), then the records from the shared ring until FINAL or until the process has gone, then the
/// trace. The shim closes its end of the socket right after HELLO.
struct StreamConnection {
    let collector: Collector
    let socket: Int32

    /// HELLO, with the ring's memfd and the sender's credentials.
    private struct Greeting {
        var ringDescriptor: Int32 = -1
        var senderPid: Int32 = 0
        var descriptorsDropped: Int32 = 0
        var failure: String?
    }

    private func receiveHello(_ decoder: inout StreamDecoder, _ session: Session) -> Greeting {
        var greeting = Greeting()
        _ = lt_pass_credentials(socket)
        // HELLO is sent with the connection; one that stays silent (a peer of ours that never speaks) must
        // not hold the collector open.
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        _ = setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 8)
        defer { buffer.deallocate() }
        while decoder.hello == nil {
            let got: Int
            do {
                got = try System.call("recvmsg") {
                    lt_receive(
                        socket, buffer.baseAddress, buffer.count, &greeting.ringDescriptor, &greeting.senderPid,
                        &greeting.descriptorsDropped)
                }
            } catch {
                break // the peer went away, or stayed silent past the timeout
            }
            if got == 0 { break }
            do {
                try decoder.feed(UnsafeRawBufferPointer(rebasing: buffer[0..<got]), into: session)
            } catch {
                greeting.failure = "\(error)"
                break
            }
        }
        return greeting
    }

    func serve() {
        let session = Session()
        var decoder = StreamDecoder(name: "the stream on connection \(socket)")
        var greeting = receiveHello(&decoder, session)
        close(socket)
        var failure = greeting.failure
        var ring: SharedRing?
        var process: TracedProcess?
        var live: LiveSession?
        if let hello = decoder.hello {
            decoder.name = "the stream from \(hello.executable) (pid \(hello.pid))"
            // The kernel's word for who sent HELLO, not the pid HELLO claims.
            let pid = UInt32(max(greeting.senderPid, 0))
            if hello.version < LT_WIRE_LIVE_MIN_VERSION {
                failure =
                    "\(decoder.name) comes from an older libleaktrack.so (wire format \(hello.version)); use the one built with this leaktrack"
            } else if greeting.ringDescriptor < 0 {
                failure =
                    greeting.descriptorsDropped != 0
                    ? "\(decoder.name) lost its shared ring: the collector is out of file descriptors (raise ulimit -n)"
                    : "\(decoder.name) came without its shared ring (a shim from another leaktrack version?)"
            } else if pid == 0 {
                failure = "\(decoder.name) came without its sender's credentials (from another pid namespace?)"
            } else {
                do {
                    let mapped = try SharedRing(fd: greeting.ringDescriptor, log2: hello.ringLog2)
                    ring = mapped
                    process = TracedProcess(pid: pid, helloMonotonicNanoseconds: hello.monotonicNanoseconds)
                    collector.heartbeat.add(mapped)
                    mapped.announce(LT_ACK_HELLO.rawValue)
                    live = LiveSession(
                        hello: hello, pid: pid, symbolizerPath: collector.symbolizerPath,
                        tracePath: collector.options.store.path(for: hello))
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
                collector.heartbeat.remove(ring)
            }
        }
        // A stream that was refused, or a process that connected and exec'd or exited before saying anything
        // (typically a fork child that exec'd at once), leaves nothing to report.
        guard let ring, let process, let live, failure == nil else {
            if let failure { collector.log("dropped a connection: \(failure)") }
            return
        }

        // The records, straight from the shared ring, until FINAL or until the process has gone.
        let writer = SnapshotWriter(
            store: collector.options.store, hello: session.hello!, symbolizerPath: collector.symbolizerPath)
        let control = ControlServer(pid: live.pid, started: live.started, log: collector.log) { [live] request in
            ControlAnswers.answer(request, for: live)
        }
        collector.attached(live)
        do {
            try drain(ring, of: process, into: session, decoder: &decoder, live: live, writer: writer)
        } catch {
            failure = "\(error)"
        }
        // The session first: a snapshot request that came after the last drain is answered (nil) at once,
        // so the control server's client thread is not left waiting for it.
        live.close()
        control?.close()
        collector.detached(live)
        writer.finish()
        if decoder.sawFinal && !collector.options.acknowledgeAfterWriting { ring.announce(LT_ACK_DONE.rawValue) }
        if failure == nil, !decoder.sawFinal {
            do { try decoder.finish() } catch { failure = "\(error)" }
        }
        guard let hello = session.hello else { return }
        if let failure { collector.log("\(failure); keeping the \(decoder.byteCount) bytes that arrived before") }
        // A fork child that never allocated (typically one that exec'd at once) leaves no trace, nor does a
        // stream that ended without allocating or saying goodbye (a peer that only sent HELLO).
        if session.totals.allocations == 0 && (hello.forked || !decoder.sawFinal) { return }
        session.takeSnapshot(trigger: decoder.sawFinal ? SnapshotSummary.exitTrigger : SnapshotSummary.endTrigger)
        store(session, hello: hello, symbolizer: writer.symbolizer)
    }

    /// Reads the ring until FINAL, or until the process has gone (it exited, or exec'd without FINAL and so no
    /// longer maps its ring), sampling its memory at the plan's interval, taking the snapshots the plan and
    /// requests call for, and answering live-state requests between batches. Between batches it sleeps on
    /// the ring's wake word, which the shim counts up after FINAL or when it waits for space.
    private func drain(
        _ ring: SharedRing, of process: TracedProcess, into session: Session,
        decoder: inout StreamDecoder, live: LiveSession, writer: SnapshotWriter
    ) throws {
        var idle: Int32 = 0
        var ended = false
        var nextSample: UInt64 = 0
        var nextMapsCheck = monotonicNanoseconds() + 1_000_000_000
        let plan = collector.options.plan
        var triggers = SnapshotTriggers(plan: plan)
        // Periodic snapshots are checked at samples: sample at least that often.
        let sampleEvery = min(plan.interval, plan.every ?? plan.interval)
        // Triggers that fired while the previous snapshot was still being written, taken as one once it is.
        var deferred: [String] = []
        while !decoder.sawFinal {
            let seen = ring.wakeCount
            // Once the process has gone nobody can publish a claimed record: give such holes up at once.
            let consumed = try ring.drain(processGone: ended) { try decoder.feed($0, into: session) }
            // Asked to stop (SIGTERM): store what has arrived; the program goes on untracked.
            if lt_stop_requested() != 0 { return }
            let now = monotonicNanoseconds()
            // The allocations of the next batch are stamped with this time (a batch takes well under 10 ms).
            session.advanceClock(to: process.streamTime(now))
            var wanted: [String] = []
            if now >= nextSample, !decoder.sawFinal {
                nextSample = now + sampleEvery
                if let memory = process.sample() {
                    let sample = session.sampleMemory(
                        time: memory.time, residentBytes: memory.residentBytes, privateBytes: memory.privateBytes,
                        virtualBytes: memory.virtualBytes, availableBytes: memory.availableBytes)
                    wanted = triggers.due(sample)
                    live.update {
                        $0.sample = sample
                        $0.allocations = session.allocationsMade
                    }
                }
            }
            // At most one snapshot waits to be written: each holds a copy of the live table, and a collector
            // asked for snapshots faster than it can write them must not grow without bound. What fires
            // meanwhile is taken as one snapshot once the writer is free; requests wait in the mailbox.
            deferred += wanted.filter { !deferred.contains($0) }
            if writer.isIdle {
                let requests = live.takeSnapshotRequests()
                if !deferred.isEmpty || !requests.isEmpty {
                    takeSnapshot(
                        trigger: (deferred + Set(requests.map(\.trigger)).sorted()).joined(separator: "+"),
                        of: session, now: now, live: live, writer: writer, requests: requests)
                    deferred = []
                }
            }
            live.answerStateRequests { session.freeze(endMonotonicNanoseconds: now) }
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

    /// Takes a snapshot (per-stack sums and a copy of the live table, on this thread: the target is not
    /// stopped, and waits only if its ring fills meanwhile) and has `writer` write it; `requests` get its path.
    private func takeSnapshot(
        trigger: String, of session: Session, now: UInt64, live: LiveSession, writer: SnapshotWriter,
        requests: [LiveSession.Request<LiveSession.WrittenSnapshot>]
    ) {
        let summary = session.takeSnapshot(trigger: trigger)
        let frozen = session.freeze(endMonotonicNanoseconds: now)
        // What the stream waited for: the sums and the copy (the ring keeps filling meanwhile).
        let copied = monotonicNanoseconds() - now
        live.update { $0.snapshots = summary.index }
        let log = collector.log
        writer.write(frozen, index: summary.index) { result in
            let written = monotonicNanoseconds() - now
            switch result {
            case .success(let path):
                live.update { $0.latestSnapshot = path }
                log(
                    "snapshot \(summary.index) of pid \(live.pid) (\(trigger)) -> \(path) "
                        + "(\(summary.heapCount) blocks; copied in \(milliseconds(copied)), written after \(milliseconds(written)))"
                )
            case .failure(let error):
                log("cannot write snapshot \(summary.index) of pid \(live.pid): \(error)")
            }
            for request in requests { request.answer(result.map { (summary.index, $0) }) }
        }
    }

    private func milliseconds(_ nanoseconds: UInt64) -> String {
        "\((Double(nanoseconds) / 1e5).rounded() / 10) ms"
    }

    /// Symbolizes and writes the trace, and tells the collector what was stored.
    private func store(_ session: Session, hello: Hello, symbolizer: Symbolizer?) {
        do {
            var trace = try session.makeTrace(
                symbolizer: nil, endMonotonicNanoseconds: monotonicNanoseconds(), releasingLiveTable: true)
            // Without a symbolizer, or with one that fails, the trace is still stored, and says so.
            trace.symbolizeLiveFrames(with: symbolizer)
            let path = try collector.options.store.write(trace, hello: hello)
            // Counted in place: a filtered copy of the live allocations would double the collector's peak.
            var leaked = 0, bytes: UInt64 = 0
            var estimated = (count: 0.0, bytes: 0.0)
            for block in trace.live where block.stack != SpecialStack.none {
                leaked += 1
                bytes = bytes.addingReportingOverflow(block.size).overflow ? .max : bytes + block.size
                if let sampling = trace.sampling {
                    let e = sampling.estimate(ofSize: block.size)
                    estimated = (estimated.count + e.count, estimated.bytes + e.bytes)
                }
            }
            let figures =
                trace.sampling == nil
                ? "\(trace.totals.allocations) allocations, \(leaked) not freed (\(bytes) bytes)"
                : "~\(trace.totals.allocations) allocations, ~\(UInt64(estimate: estimated.count)) not freed "
                    + "(~\(UInt64(estimate: estimated.bytes)) bytes, estimated from \(leaked) samples)"
            let summary =
                "\(hello.executable) (pid \(hello.pid)): " + figures + (trace.process.complete ? "" : ", incomplete")
            collector.stored(
                CollectedTrace(
                    path: path, pid: hello.pid, executable: hello.executable, summary: summary,
                    complete: trace.process.complete, started: hello.monotonicNanoseconds))
        } catch {
            collector.log("cannot store the trace of pid \(hello.pid): \(error)")
            collector.stored(
                CollectedTrace(
                    path: nil, pid: hello.pid, executable: hello.executable, summary: "\(error)",
                    complete: false, started: hello.monotonicNanoseconds))
        }
    }
}
