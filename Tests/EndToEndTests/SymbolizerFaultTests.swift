import Foundation
import XCTest

/// A symbolizer that is missing or dies must cost names, never the trace: the trace is stored, and says how
/// many frames went unsymbolized and why.
final class SymbolizerFaultTests: EndToEndTestCase {
    func testACrashingOrMissingSymbolizerIsANoteInTheTrace() throws {
        try harness.compile(["exit_status.c"], output: "exit_status")
        let crashing = harness.path("crashing-symbolizer")
        try "#!/bin/sh\nkill -SEGV $$\n".write(toFile: crashing, atomically: true, encoding: .utf8)
        chmod(crashing, 0o755)
        // The crash is run several times: one that dies before reading its input made the collector's write to
        // it fail (EPIPE), which once crashed the collector, and only now and then.
        let cases =
            Array(repeating: (crashing, "was killed by signal 11"), count: 8) + [(harness.path("none"), "not found")]
        for (attempt, (symbolizer, reason)) in cases.enumerated() {
            let trace = harness.path("t\(attempt).trace")
            let record = try harness.run(
                [harness.leaktrack, "record", "-o", trace, "--", harness.path("exit_status")],
                environment: ["LEAKTRACK_SYMBOLIZER": symbolizer])
            XCTAssertEqual(record.status, 3, "the program's own status: \(record.stderr)")
            let dump = try harness.run([harness.leaktrack, "dump", trace])
            XCTAssertEqual(dump.status, 0, dump.stderr)
            let note = dump.stdout.split(separator: "\n").first { $0.hasPrefix("SYMBOLIZATION ") }
            XCTAssertNotNil(note, "\(symbolizer): \(dump.stdout)")
            XCTAssertTrue(note?.contains(reason) ?? false, "\(note ?? "")")
            XCTAssertFalse(note?.contains("unanswered=0 ") ?? true, "\(note ?? "")")
            let report = try harness.run([harness.leaktrack, "report", trace])
            XCTAssertTrue(report.stdout.contains("frames are unsymbolized: "), report.stdout)
            XCTAssertTrue(
                report.stdout.contains("77 B in 1 allocations"), "the leak is still reported: \(report.stdout)")
        }
    }
}
