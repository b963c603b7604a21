import XCTest

/// The collector's socket is private to the user, and a peer that sends nonsense loses only its own
/// connection.
final class SocketSafetyTests: EndToEndTestCase {
    func testSocketDirectoryAndSocketArePrivate() throws {
        try harness.compile(["peer.c"], output: "peer")
        let result = try harness.run([harness.leaktrack, "record", "-o", harness.path("out.trace"), "--", harness.path("peer"), "modes"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "700 600\n")
    }

    func testGarbageOnAnotherConnectionLeavesTheProgramsTraceIntact() throws {
        try harness.compile(["peer.c"], output: "peer")
        let result = try harness.run([harness.leaktrack, "record", "-o", harness.path("out.trace"), "--", harness.path("peer"), "garbage"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stderr.contains("dropped a connection"), result.stderr)
        let report = try harness.reportJSON(harness.path("out.trace"))
        XCTAssertEqual(Leak.callSites(report), [Leak(function: "after_garbage", module: "peer", bytes: 123, count: 1)])
        XCTAssertEqual((report["process"] as? [String: Any])?["complete"] as? Bool, true)
    }

    func testARingThatCanShrinkIsRefusedAndTheProgramsTraceIsIntact() throws {
        // Mapped, a ring truncated under the collector would kill it (and every process's trace) with SIGBUS.
        try harness.compile(["peer.c"], output: "peer")
        let result = try harness.run([harness.leaktrack, "record", "-o", harness.path("out.trace"), "--", harness.path("peer"), "unsealed"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stderr.contains("not a memfd sealed against shrinking; refusing it"), result.stderr)
        let report = try harness.reportJSON(harness.path("out.trace"))
        XCTAssertEqual(Leak.callSites(report), [Leak(function: "after_garbage", module: "peer", bytes: 123, count: 1)])
        XCTAssertEqual((report["process"] as? [String: Any])?["complete"] as? Bool, true)
    }
}
