import XCTest

/// The collector's socket is private to the user, and a peer that sends nonsense loses only its own
/// connection.
final class SocketSafetyTests: EndToEndTestCase {
    /// `leaktrack record -o out.trace -- peer MODE`, with peer.c compiled first.
    private func recordPeer(_ mode: String, timeout: TimeInterval = 120) throws -> Harness.Result {
        try harness.compile(["peer.c"], output: "peer")
        return try harness.record([harness.path("peer"), mode], timeout: timeout).result
    }

    /// The report of out.trace: only peer's own 123 bytes, and complete.
    private func assertPeersOwnTraceIsIntact(file: StaticString = #filePath, line: UInt = #line) throws {
        let report = try harness.reportJSON(harness.path("out.trace"))
        XCTAssertEqual(
            Leak.callSites(report), [Leak(function: "after_garbage", module: "peer", bytes: 123, count: 1)], file: file,
            line: line)
        XCTAssertEqual(report.process.complete, true, file: file, line: line)
    }

    func testSocketDirectoryAndSocketArePrivate() throws {
        let result = try recordPeer("modes")
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "700 600\n")
    }

    func testGarbageOnAnotherConnectionLeavesTheProgramsTraceIntact() throws {
        let result = try recordPeer("garbage")
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stderr.contains("dropped a connection"), result.stderr)
        try assertPeersOwnTraceIsIntact()
    }

    func testARingThatCanShrinkIsRefusedAndTheProgramsTraceIsIntact() throws {
        // Mapped, a ring truncated under the collector would kill it (and every process's trace) with SIGBUS.
        let result = try recordPeer("unsealed")
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stderr.contains("not a memfd sealed against shrinking; refusing it"), result.stderr)
        try assertPeersOwnTraceIsIntact()
        // A refused stream leaves no trace behind.
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: harness.directory).filter {
                $0.hasPrefix("leaktrack.")
            }, [])
    }

    func testAPeerThatNamesTheCollectorAsItsProcessCannotHoldItOpen() throws {
        // The collector knows each process by the credentials its HELLO came with, not by the pid it claims.
        try harness.compile(["peer.c"], output: "peer")
        let started = Date()
        let result = try harness.record(
            [harness.path("peer"), "liar"], trace: "out.trace",
            timeout: 60)
        XCTAssertLessThan(Date().timeIntervalSince(started), 15)
        XCTAssertEqual(result.status, 0, result.stderr)
        let report = try harness.reportJSON(harness.path("out.trace"))
        XCTAssertEqual(Leak.callSites(report), [Leak(function: "after_garbage", module: "peer", bytes: 123, count: 1)])
        // A stream that only said HELLO leaves no trace behind.
        let stray = try FileManager.default.contentsOfDirectory(atPath: harness.directory).filter {
            $0.hasPrefix("leaktrack.")
        }
        XCTAssertEqual(stray, [])
    }

    func testAStreamTheCollectorRefusesIsAnsweredSoTheShimDoesNotWait() throws {
        let result = try recordPeer("old")
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "answered\n")
        XCTAssertTrue(result.stderr.contains("comes from an older libleaktrack.so (wire format 1)"), result.stderr)
    }
}
