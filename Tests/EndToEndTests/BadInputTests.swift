import Foundation
import XCTest

/// Every subcommand on bad input: one clear line on stderr and exit status 2, never a crash.
final class BadInputTests: EndToEndTestCase {
    func assertToolError(_ arguments: [String], mentions: String, file: StaticString = #filePath, line: UInt = #line)
        throws
    {
        let result = try harness.run([harness.leaktrack] + arguments)
        XCTAssertEqual(result.status, 2, "\(arguments): \(result.stderr)", file: file, line: line)
        let lines = result.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "one line: \(result.stderr)", file: file, line: line)
        XCTAssertTrue(
            result.stderr.contains(mentions), "\(result.stderr) should mention \(mentions)", file: file, line: line)
    }

    func testMissingEmptyForeignTruncatedAndNewerFiles() throws {
        try assertToolError(["report", harness.path("missing.trace")], mentions: "No such file")
        _ = FileManager.default.createFile(atPath: harness.path("empty.trace"), contents: Data())
        try assertToolError(["report", harness.path("empty.trace")], mentions: "empty")
        _ = FileManager.default.createFile(
            atPath: harness.path("foreign.trace"), contents: Data("hello world, not a trace".utf8))
        try assertToolError(["report", harness.path("foreign.trace")], mentions: "not a leaktrack trace")
        try assertToolError(["dump", harness.path("foreign.trace")], mentions: "not a leaktrack trace")

        try harness.compile(["exit_status.c"], output: "exit_status")
        _ = try harness.record([harness.path("exit_status")], trace: "good.trace")
        let good = try Data(contentsOf: URL(fileURLWithPath: harness.path("good.trace")))
        try good.prefix(good.count / 2).write(to: URL(fileURLWithPath: harness.path("half.trace")))
        try assertToolError(["report", harness.path("half.trace")], mentions: "truncated")
        var newer = good
        newer[8] = 99 // the version field follows the 8-byte magic
        try newer.write(to: URL(fileURLWithPath: harness.path("newer.trace")))
        try assertToolError(["report", harness.path("newer.trace")], mentions: "newer leaktrack")
        // dump prints every section of a good trace.
        let dump = try harness.run([harness.leaktrack, "dump", harness.path("good.trace")])
        XCTAssertEqual(dump.status, 0)
        XCTAssertTrue(dump.stdout.contains("PROCESS pid="), dump.stdout)
        XCTAssertTrue(dump.stdout.contains("LIVE "), dump.stdout)
        // A reader that stops early is not an error, and certainly not a crash.
        let head = try harness.run([
            "sh", "-c", "\"$0\" dump \"$1\" | head -1; exit ${PIPESTATUS:-0}", harness.leaktrack,
            harness.path("good.trace"),
        ])
        XCTAssertEqual(head.status, 0)
        XCTAssertEqual(head.stdout.split(separator: "\n").count, 1)
        XCTAssertEqual(head.stderr, "")
    }

    func testUsageErrors() throws {
        try assertToolError(["record"], mentions: "--")
        try assertToolError(["report", "--format", "xml", "x"], mentions: "xml")
        try assertToolError(["report", "--format", "junit", "x"], mentions: "report writes --format text")
        try assertToolError(["check", "--format", "folded", "x"], mentions: "check writes --format text, json, junit")
        try assertToolError(["frobnicate"], mentions: "frobnicate")
        try assertToolError(["record", "--", harness.path("does-not-exist")], mentions: "does-not-exist")
        let empty = try harness.run([harness.leaktrack, "report"])
        XCTAssertEqual(empty.status, 2)
        XCTAssertTrue(empty.stderr.contains("no leaktrack.*.trace"), empty.stderr)
    }

    func testHelpOfEverySubcommandAndTheCommandSeparator() throws {
        for command in ["record", "report", "check", "dump", "collect"] {
            let help = try harness.run([harness.leaktrack, command, "--help"])
            XCTAssertEqual(help.status, 0, "\(command) --help: \(help.stderr)")
            XCTAssertTrue(help.stdout.hasPrefix("OVERVIEW:"), "\(command) --help: \(help.stdout)")
        }
        try assertToolError(["check", "--"], mentions: "give the command to check after --")
        try assertToolError(["check", "--max-leak", "3", "x.trace"], mentions: "unknown option '--max-leak'")
        try assertToolError(["check", "x.trace", "--", "true"], mentions: "not both")
    }
}
