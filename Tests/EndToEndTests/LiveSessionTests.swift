import Foundation
import LeakTrackCollector
import LeakTrackCore
import XCTest

/// The collector as a library: a caller starts a recording, receives its live sessions, and asks a running
/// process for a snapshot between drains.
final class LiveSessionTests: EndToEndTestCase {
    func testASnapshotOfARunningProcessSeesWhatItHoldsAndTheFinalTraceWhatItFreed() throws {
        try harness.compile(["held.c"], output: "held")
        let release = harness.path("release")
        let sessions = Locked<[LiveSession]>([])
        var setUp = Recording(
            command: [harness.path("held"), release], output: harness.path("held.trace"), preload: harness.shim)
        setUp.onSession = { session, ended in if !ended { sessions.update { $0.append(session) } } }
        let recording = setUp
        let result = Locked<Result<Recording.Result, Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread {
            result.value = Result { try recording.run { _ in } }
            done.signal()
        }.start()
        // If anything below fails, the program must still be let go.
        defer {
            _ = FileManager.default.createFile(atPath: release, contents: Data())
            done.wait()
        }

        var session: LiveSession?
        for _ in 0..<1000 where session == nil {
            session = sessions.value.first
            if session == nil { usleep(10_000) }
        }
        let live = try XCTUnwrap(session, "the recording never reported a live session")
        XCTAssertEqual(live.executable, harness.path("held"))
        // The ten blocks are published before the program waits; a snapshot may come before they are read.
        var held: [Stack] = []
        var snapshot: Trace?
        for _ in 0..<500 {
            snapshot = try live.snapshot()
            held = snapshot?.stacks.filter { $0.liveCount == 10 && $0.liveBytes == 40960 } ?? []
            if !held.isEmpty { break }
            usleep(10_000)
        }
        let trace = try XCTUnwrap(snapshot)
        XCTAssertEqual(held.count, 1, "one call site holds the ten blocks")
        XCTAssertFalse(trace.process.complete, "a snapshot is of a process that still runs")
        let functions = held.first.map { $0.frames.flatMap { trace.frames[$0].symbols.map(\.function) } } ?? []
        XCTAssertEqual(functions.first, "hold_block", "the snapshot's frames are symbolized: \(functions)")

        _ = FileManager.default.createFile(atPath: release, contents: Data())
        done.wait()
        done.signal() // for the deferred wait
        let recorded = try XCTUnwrap(result.value).get()
        XCTAssertEqual(recorded.status, 0)
        let final = try TraceFile.read(path: try XCTUnwrap(recorded.traces.last?.path))
        XCTAssertTrue(final.process.complete)
        XCTAssertFalse(final.stacks.contains { $0.liveBytes == 40960 }, "the blocks were freed before exit")
        XCTAssertNil(try live.snapshot(timeout: 1), "an ended session answers no snapshot")
    }
}
