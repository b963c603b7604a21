import CLeakTrackSystem
import Foundation
import LeakTrackCore
import LeakTrackSymbolize

#if canImport(Glibc)
    import Glibc
#endif

/// What the collector stored for one traced process.
public struct CollectedTrace: Sendable {
    /// Where the trace was written; nil if it could not be stored (`summary` then says why).
    public var path: String?
    public var pid: UInt32
    public var executable: String
    public var summary: String
    /// The stream ended with the shim's FINAL record (not cut by exec or a kill).
    public var complete: Bool
    /// When the process image started its stream (CLOCK_MONOTONIC): orders the images one pid exec'd.
    public var started: UInt64 = 0
}

/// The collector: accepts one connection per traced process on a listening Unix socket and turns each stream
/// into a trace file. One thread per connection (`StreamConnection`); a stream is symbolized and written when
/// it ends. While a stream runs, its `LiveSession` answers snapshot requests from other threads.
///
/// It knows nothing of command lines or output: what it has to say goes to `log`, one sentence a call.
public final class Collector {
    /// How the collector ends a stream.
    public struct Options {
        /// Where traces go and how they are named.
        public var store: TraceStore
        /// Acknowledge the end of a stream only once its trace is written (bare mode, where nothing else waits
        /// for the collector), rather than as soon as the stream has arrived (record mode, which waits for us).
        public var acknowledgeAfterWriting: Bool
        /// Called on the connection's thread when a stream is attached (its ring mapped), and again with the
        /// same session when it has ended; see `LiveSession`.
        public var onSession: ((LiveSession, _ ended: Bool) -> Void)?
        /// When to sample memory and take snapshots.
        public var plan = SnapshotPlan()

        public init(
            store: TraceStore, acknowledgeAfterWriting: Bool, onSession: ((LiveSession, Bool) -> Void)? = nil,
            plan: SnapshotPlan = SnapshotPlan()
        ) {
            self.store = store
            self.acknowledgeAfterWriting = acknowledgeAfterWriting
            self.onSession = onSession
            self.plan = plan
        }
    }

    private let listener: Int32
    let options: Options
    let symbolizerPath: String?
    let log: (String) -> Void
    let heartbeat = RingHeartbeat()
    private let state = Locked(Counts())

    private struct Counts {
        var accepted = 0
        var active = 0
        var traces: [CollectedTrace] = []
    }

    /// `listener`: a listening Unix socket (see `PrivateListener`), still owned by the caller.
    public init(listener: Int32, options: Options, log: @escaping (String) -> Void) {
        self.listener = listener
        self.options = options
        self.symbolizerPath = LLVMSymbolizer.locate()
        self.log = log
        if symbolizerPath == nil {
            log(
                "llvm-symbolizer not found (set LEAKTRACK_SYMBOLIZER or put the Swift toolchain on PATH); traces will have addresses only"
            )
        }
    }

    /// The traces stored so far, in the order their streams ended.
    public var collected: [CollectedTrace] { state.value.traces }

    /// Accepts connections until `shouldStop(accepted, active)` says so at a moment when no connection is
    /// waiting. Checked every 50 ms. At most `maxActive` streams are served at once (each holds descriptors);
    /// the others wait in the listener's queue, their records safe in their rings.
    public func run(shouldStop: (_ accepted: Int, _ active: Int) -> Bool) {
        let maxActive = max(16, (lt_descriptor_limit() - 64) / 8)
        while true {
            let counts = state.value
            let (accepted, active) = (counts.accepted, counts.active)
            var poller = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            let ready = active < maxActive ? ((try? System.call("poll") { poll(&poller, 1, 50) }) ?? 0) : 0
            if ready > 0 {
                if !acceptOne() { usleep(20_000) }
                continue
            }
            if active >= maxActive { usleep(20_000) }
            if shouldStop(accepted, active) || (lt_stop_requested() != 0 && active == 0) { return }
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
        state.update {
            $0.accepted += 1
            $0.active += 1
        }
        let thread = Thread { [self] in
            StreamConnection(collector: self, socket: fd).serve()
            state.update { $0.active -= 1 }
        }
        thread.stackSize = 4 << 20
        thread.start()
        return true
    }

    // MARK: what the connections report

    func attached(_ session: LiveSession) {
        options.onSession?(session, false)
    }

    func detached(_ session: LiveSession) {
        session.close()
        options.onSession?(session, true)
    }

    func stored(_ trace: CollectedTrace) {
        state.update { $0.traces.append(trace) }
    }
}
