import Foundation
import LeakTrackCore
import LeakTrackSymbolize

/// A stream that is being served: who it comes from, and its state on request. The connection's thread owns
/// the stream's `Session` and applies records to it with no lock; another thread asks for a snapshot, and the
/// connection's thread makes it between two drains of the ring, so the two never touch the session at once.
public final class LiveSession: @unchecked Sendable {
    public let pid: UInt32
    public let executable: String
    /// When the process image started its stream (CLOCK_MONOTONIC).
    public let started: UInt64
    /// When the process image started, wall clock (nanoseconds since 1970).
    public let startTime: UInt64
    /// Where its final trace is expected to go.
    public let tracePath: String
    private let symbolizerPath: String?
    private let mailbox = Locked(Mailbox())
    private let latest = Locked(Status())

    private struct Mailbox {
        var states: [Request<FrozenSession>] = []
        var files: [Request<WrittenSnapshot>] = []
        var closed = false
    }

    /// What `leaktrack ps` shows of a traced process: the collector's latest memory sample, and what it did.
    public struct Status: Sendable {
        public var sample = MemorySample(time: 0, residentBytes: 0, virtualBytes: 0, heapBytes: 0)
        public var allocations: UInt64 = 0
        public var snapshots = 0
        public var latestSnapshot: String?
    }

    public var status: Status { latest.value }

    func update(_ change: (inout Status) -> Void) { latest.update(change) }

    /// A snapshot file the connection wrote for a request.
    public typealias WrittenSnapshot = (index: Int, path: String)

    /// One question to the connection's thread, and its answer. `trigger` names a snapshot file's reason.
    final class Request<Answer>: @unchecked Sendable {
        let trigger: String
        private let answered = DispatchSemaphore(value: 0)
        private var result: Result<Answer, Error>?

        init(trigger: String = "") {
            self.trigger = trigger
        }

        func answer(_ result: Result<Answer, Error>?) {
            self.result = result
            answered.signal()
        }

        fileprivate func wait(_ timeout: Double) -> Result<Answer, Error>?? {
            answered.wait(timeout: .now() + timeout) == .success ? .some(result) : nil
        }
    }

    init(hello: Hello, pid: UInt32, symbolizerPath: String?, tracePath: String) {
        self.pid = pid
        executable = hello.executable
        started = hello.monotonicNanoseconds
        startTime = hello.realtimeNanoseconds
        self.symbolizerPath = symbolizerPath
        self.tracePath = tracePath
    }

    /// Posts `request` into the queue `queue` names and waits for its answer; nil when the stream ended first
    /// or nothing came within `timeout` seconds.
    private func ask<Answer>(
        _ request: Request<Answer>, in queue: WritableKeyPath<Mailbox, [Request<Answer>]>, timeout: Double
    ) throws -> Answer? {
        let open = mailbox.update { box -> Bool in
            if box.closed { return false }
            box[keyPath: queue].append(request)
            return true
        }
        guard open, case .some(let answered) = request.wait(timeout) else {
            mailbox.update { box in box[keyPath: queue].removeAll { $0 === request } }
            return nil
        }
        return try answered?.get()
    }

    /// The stream's state now, as a trace marked incomplete (the process still runs), made and symbolized on
    /// the calling thread: the connection's thread only copies the session's tables. nil when the stream ended
    /// before the connection's thread got to the request, or did not answer within `timeout` seconds.
    public func snapshot(symbolize: Bool = true, timeout: Double = 10) throws -> Trace? {
        guard let frozen = try ask(Request<FrozenSession>(), in: \.states, timeout: timeout) else { return nil }
        var trace = frozen.makeTrace()
        if symbolize { trace.symbolizeLiveFrames(with: symbolizerPath.map { LLVMSymbolizer(executable: $0) }) }
        return trace
    }

    /// Has the collector take a snapshot now and write it (as `leaktrack snapshot PID` does); returns its index
    /// and path once the file is written. nil when the stream ended first or nothing came within `timeout`.
    public func writeSnapshot(trigger: String = "request", timeout: Double = 30) throws -> WrittenSnapshot? {
        try ask(Request<WrittenSnapshot>(trigger: trigger), in: \.files, timeout: timeout)
    }

    /// On the connection's thread, between drains: answers every waiting state request with one frozen state.
    func answerStateRequests(_ freeze: () -> FrozenSession) {
        let waiting = mailbox.update { box -> [Request<FrozenSession>] in
            defer { box.states = [] }
            return box.states
        }
        guard !waiting.isEmpty else { return }
        // Each request consumes its frozen state (makeTrace takes the live table's copy): one each.
        for request in waiting { request.answer(.success(freeze())) }
    }

    /// On the connection's thread: the snapshot-file requests waiting now (each answered once written).
    func takeSnapshotRequests() -> [Request<WrittenSnapshot>] {
        mailbox.update { box -> [Request<WrittenSnapshot>] in
            defer { box.files = [] }
            return box.files
        }
    }

    /// The stream has ended: waiting and later requests get nil.
    func close() {
        let (states, files) = mailbox.update { box -> ([Request<FrozenSession>], [Request<WrittenSnapshot>]) in
            box.closed = true
            defer {
                box.states = []
                box.files = []
            }
            return (box.states, box.files)
        }
        states.forEach { $0.answer(nil) }
        files.forEach { $0.answer(nil) }
    }
}
