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
        var waiting: [Request] = []
        var snapshotsWanted: [SnapshotRequest] = []
        var closed = false
    }

    /// What `leaktrack ps` shows of a traced process, as of the collector's latest memory sample.
    public struct Status: Sendable {
        /// Nanoseconds since the stream began.
        public var time: UInt64 = 0
        public var residentBytes: UInt64 = 0
        public var privateBytes: UInt64 = 0
        public var heapBytes: UInt64 = 0
        public var heapCount: UInt64 = 0
        public var allocations: UInt64 = 0
        public var snapshots = 0
        public var latestSnapshot: String?
    }

    public var status: Status { latest.value }

    func update(_ change: (inout Status) -> Void) { latest.update(change) }

    final class SnapshotRequest: @unchecked Sendable {
        let trigger: String
        let answered = DispatchSemaphore(value: 0)
        var result: Result<(index: Int, path: String), Error>?

        init(trigger: String) {
            self.trigger = trigger
        }
    }

    private final class Request: @unchecked Sendable {
        let answered = DispatchSemaphore(value: 0)
        var result: Result<Trace, Error>?
    }

    init(hello: Hello, pid: UInt32, symbolizerPath: String?, tracePath: String) {
        self.pid = pid
        executable = hello.executable
        started = hello.monotonicNanoseconds
        startTime = hello.realtimeNanoseconds
        self.symbolizerPath = symbolizerPath
        self.tracePath = tracePath
    }

    /// Has the collector take a snapshot now and write it (as `leaktrack snapshot PID` does); returns its index
    /// and path once the file is written. nil when the stream ended first or nothing came within `timeout`.
    public func writeSnapshot(trigger: String = "request", timeout: Double = 30) throws -> (index: Int, path: String)? {
        let request = SnapshotRequest(trigger: trigger)
        let open = mailbox.update { box -> Bool in
            if box.closed { return false }
            box.snapshotsWanted.append(request)
            return true
        }
        guard open, request.answered.wait(timeout: .now() + timeout) == .success else {
            mailbox.update { box in box.snapshotsWanted.removeAll { $0 === request } }
            return nil
        }
        return try request.result?.get()
    }

    /// On the connection's thread: the snapshot requests waiting now (each to be answered once written).
    func takeSnapshotRequests() -> [SnapshotRequest] {
        mailbox.update { box -> [SnapshotRequest] in
            defer { box.snapshotsWanted = [] }
            return box.snapshotsWanted
        }
    }

    /// The stream's state now, as a trace marked incomplete (the process still runs), with its live frames
    /// symbolized on the calling thread (so the stream is not held up meanwhile). nil when the stream ended
    /// before the connection's thread got to the request, or did not answer within `timeout` seconds.
    public func snapshot(symbolize: Bool = true, timeout: Double = 10) throws -> Trace? {
        let request = Request()
        let open = mailbox.update { box -> Bool in
            if box.closed { return false }
            box.waiting.append(request)
            return true
        }
        guard open, request.answered.wait(timeout: .now() + timeout) == .success else {
            mailbox.update { box in box.waiting.removeAll { $0 === request } }
            return nil
        }
        guard case .some(let result) = request.result else { return nil }
        var trace = try result.get()
        if symbolize { trace.symbolizeLiveFrames(with: symbolizerPath.map { LLVMSymbolizer(executable: $0) }) }
        return trace
    }

    /// On the connection's thread, between drains: answers every waiting request with one trace.
    func answerRequests(_ make: () throws -> Trace) {
        let waiting = mailbox.update { box -> [Request] in
            defer { box.waiting = [] }
            return box.waiting
        }
        guard !waiting.isEmpty else { return }
        let result = Result { try make() }
        for request in waiting {
            request.result = result
            request.answered.signal()
        }
    }

    /// The stream has ended: waiting and later requests get nil.
    func close() {
        let (waiting, snapshots) = mailbox.update { box -> ([Request], [SnapshotRequest]) in
            box.closed = true
            defer {
                box.waiting = []
                box.snapshotsWanted = []
            }
            return (box.waiting, box.snapshotsWanted)
        }
        waiting.forEach { $0.answered.signal() }
        snapshots.forEach { $0.answered.signal() }
    }
}
