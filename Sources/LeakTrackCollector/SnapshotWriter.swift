import Foundation
import LeakTrackCore
import LeakTrackSymbolize

/// Writes one stream's snapshots as trace files, in order, on a thread of its own: the stream's thread only
/// takes the snapshot (per-stack sums and a copy of the live table) and goes back to the ring. Frames are
/// symbolized once per stream: later snapshots and the final trace reuse the answers.
final class SnapshotWriter: @unchecked Sendable {
    private let queue = DispatchQueue(label: "leaktrack.snapshot-writer")
    private let pending = Locked(0)

    /// No snapshot is waiting or being written.
    var isIdle: Bool { pending.value == 0 }
    let symbolizer: CachingSymbolizer?
    private let store: TraceStore
    private let hello: Hello

    init(store: TraceStore, hello: Hello, symbolizerPath: String?) {
        self.store = store
        self.hello = hello
        symbolizer = symbolizerPath.map { CachingSymbolizer(LLVMSymbolizer(executable: $0)) }
    }

    /// Makes, symbolizes and writes the snapshot's trace as leaktrack.PROGRAM.PID.snapshot-N.trace, then
    /// calls `done` (on the writer's thread) with its path.
    func write(_ frozen: FrozenSession, index: Int, done: @escaping (Result<String, Error>) -> Void) {
        pending.update { $0 += 1 }
        queue.async { [self] in
            var trace = frozen.makeTrace()
            trace.symbolizeLiveFrames(with: symbolizer)
            // A snapshot file carries the first and the latest summaries only: every file repeating every
            // summary would make a long run's disk use grow with the square of its snapshots.
            trace.keepLatestSnapshots(SnapshotWriter.summariesPerFile)
            let result = Result { try store.write(trace, hello: hello, label: "snapshot-\(index)") }
            pending.update { $0 -= 1 }
            done(result)
        }
    }

    /// Snapshot summaries in a snapshot file (the final trace keeps all the session kept).
    static let summariesPerFile = 64

    /// Returns once every snapshot asked for so far is written.
    func finish() {
        queue.sync {}
    }
}

/// A symbolizer that remembers its answers, so a long run's snapshots ask llvm-symbolizer only for frames
/// it has not seen (one process spawn per snapshot, for the new frames alone).
final class CachingSymbolizer: Symbolizer, @unchecked Sendable {
    private let underlying: Symbolizer
    private let known = Locked([SymbolRequest: [Symbol]]())

    init(_ underlying: Symbolizer) {
        self.underlying = underlying
    }

    func symbolize(_ requests: [SymbolRequest]) throws -> [[Symbol]] {
        let cache = known.value
        let missing = Array(Set(requests.filter { cache[$0] == nil }))
        var failure: SymbolizerFailure?
        var answers: [[Symbol]] = []
        if !missing.isEmpty {
            do {
                answers = try underlying.symbolize(missing)
            } catch let partial as SymbolizerFailure {
                answers = partial.symbols
                failure = partial
            }
            known.update { cache in
                // Only what was answered: a failed batch is asked again next time.
                for (request, symbols) in zip(missing, answers) where failure == nil || !symbols.isEmpty {
                    cache[request] = symbols
                }
            }
        }
        let fresh = Dictionary(zip(missing, answers), uniquingKeysWith: { first, _ in first })
        let result = requests.map { cache[$0] ?? fresh[$0] ?? [] }
        if let failure {
            let unanswered = requests.filter { cache[$0] == nil && (fresh[$0]?.isEmpty ?? true) }.count
            throw SymbolizerFailure(symbols: result, unanswered: unanswered, reason: failure.reason)
        }
        return result
    }
}
