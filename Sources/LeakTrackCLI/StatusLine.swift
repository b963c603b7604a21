import Foundation
import LeakTrackCollector
import LeakTrackCore
import LeakTrackReport

#if canImport(Glibc)
    import Glibc
#endif

/// The one line `record` keeps current on a terminal: elapsed time, resident, heap live, allocations per
/// second and snapshots taken, redrawn every second. Messages clear it, print, and let it redraw.
final class StatusLine: @unchecked Sendable {
    private let state = Locked(State())
    private var thread: Thread?

    private struct State {
        var sessions: [LiveSession] = []
        /// The session shown, and its counters at the line before (a rate is over one session only).
        var shownPid: UInt32 = 0
        var lastAllocations: UInt64 = 0
        var lastTime: UInt64 = 0
        var stopped = false
        var shown = false
    }

    /// A status line if standard error is a terminal; nil otherwise (nothing of it goes to a file or pipe).
    static func onTerminal() -> StatusLine? {
        guard isatty(STDERR_FILENO) == 1 else { return nil }
        let line = StatusLine()
        let thread = Thread { [line] in line.run() }
        line.thread = thread
        thread.start()
        return line
    }

    func track(_ session: LiveSession, ended: Bool) {
        state.update { state in
            if ended { state.sessions.removeAll { $0 === session } } else { state.sessions.append(session) }
        }
    }

    func log(_ message: String) {
        state.update { state in
            if state.shown { Output.errorRaw("\r\u{1B}[K") }
            state.shown = false
            Output.error(message)
        }
    }

    func stop() {
        state.update { state in
            state.stopped = true
            if state.shown { Output.errorRaw("\r\u{1B}[K") }
            state.shown = false
        }
    }

    private func run() {
        while true {
            usleep(1_000_000)
            let done = state.update { state -> Bool in
                if state.stopped { return true }
                // The oldest stream still running (the command's own, unless it has gone: a daemon's child).
                guard let session = state.sessions.min(by: { $0.started < $1.started }) else { return false }
                let status = session.status
                if session.pid != state.shownPid {
                    state.shownPid = session.pid
                    state.lastTime = 0
                }
                var rate = 0.0
                let time = status.sample.time
                if state.lastTime != 0, time > state.lastTime, status.allocations >= state.lastAllocations {
                    rate =
                        Double(status.allocations - state.lastAllocations)
                        / (Double(time - state.lastTime) / 1e9)
                }
                state.lastAllocations = status.allocations
                state.lastTime = time
                // Wall time since the process started (the status itself is as of the latest memory sample).
                let elapsed = Int((monotonicNanoseconds() &- session.started) / 1_000_000_000)
                let text =
                    "leaktrack: pid \(session.pid) \(elapsed / 3600):\(twoDigits(elapsed / 60 % 60)):\(twoDigits(elapsed % 60))"
                    + "  resident \(formatBytes(status.sample.residentBytes))  heap \(formatBytes(status.sample.heapBytes))"
                    + " in \(status.sample.heapCount) blocks  \(Int(min(rate, 1e15))) allocs/s  snapshots \(status.snapshots)"
                Output.errorRaw("\r\u{1B}[K" + text.escapingControlCharacters)
                state.shown = true
                return false
            }
            if done { return }
        }
    }

    private func twoDigits(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
}
