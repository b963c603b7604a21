import Foundation
import LeakTrackCore
import LeakTrackReport
import LeakTrackTestSupport
import XCTest

/// The golden tier: traces recorded once from fixtures under the real shim, and crafted ones (CraftedTraces),
/// all in Tests/Golden/*.trace, are rendered in every format and compared with the expected files beside them.
/// A difference fails with a unified diff; `scripts/golden --update` rewrites the expected files (and the
/// crafted traces) on purpose: review the diff.
final class GoldenTests: XCTestCase {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Golden").path
    static var updating: Bool { ProcessInfo.processInfo.environment["LEAKTRACK_GOLDEN_UPDATE"] == "1" }

    /// One golden case: a trace and the options it is analyzed with.
    struct Case {
        var name: String
        var trace: String
        var options = ReportOptions()
        /// Where SARIF and annotations make paths relative (the recorded fixtures were built there).
        var sourceRoot = "/tmp/golden-build"
    }

    static var cases: [Case] {
        var suppressedAndFolded = ReportOptions()
        let rule = Suppressions.Rule(pattern: Pattern("CFoo_crtheap"), reason: "golden test")
        suppressedAndFolded.suppressions = Suppressions(rules: [rule])
        suppressedAndFolded.rules.foldPatterns.append(Pattern("handle_*"))
        suppressedAndFolded.grouping = .function
        return [
            Case(name: "demo", trace: "demo"),
            Case(name: "demo-suppressed-folded", trace: "demo", options: suppressedAndFolded),
            Case(name: "cpp", trace: "cpp"),
            Case(name: "all_kinds", trace: "all_kinds"),
            Case(name: "killed", trace: "killed"),
            Case(name: "losses", trace: "losses", sourceRoot: "/srv/app"),
        ]
    }

    /// Every rendering of a case, by file suffix.
    static func renderings(_ golden: Case) throws -> [(suffix: String, text: String)] {
        let trace = try TraceFile.read(path: "\(directory)/\(golden.trace).trace")
        let report = LeakReport(trace: trace, options: golden.options)
        let gate = LeakGate(suppressions: golden.options.suppressions.rules)
        let verdict = GateVerdict(gate.evaluate([report]))
        let sourceRoot = golden.sourceRoot
        return [
            ("report.txt", TextRenderer().render(report)),
            ("report.json", JSONRenderer().render(report)),
            ("report.folded", FoldedStacksRenderer().render(report)),
            ("check.txt", GateTextRenderer().render(verdict)),
            ("check.json", GateJSONRenderer().render(verdict)),
            ("junit.xml", JUnitRenderer().render(verdict)),
            ("sarif.json", SARIFRenderer(sourceRoot: sourceRoot, toolVersion: "golden").render(verdict)),
            ("annotations.txt", GitHubAnnotations(sourceRoot: sourceRoot).render(verdict)),
        ]
    }

    /// The crafted traces are what their code (CraftedTraces) encodes, and read back as they were made.
    func testCraftedTracesAreWhatTheirCodeEncodes() throws {
        if Self.updating { return }
        for (name, trace) in CraftedTraces.all {
            let path = "\(Self.directory)/\(name).trace"
            let saved = try XCTUnwrap(FileManager.default.contents(atPath: path), "\(path) is missing")
            XCTAssertEqual(
                Array(saved), TraceFile.encode(trace),
                "\(name).trace is not what CraftedTraces encodes: run scripts/golden --update")
            XCTAssertEqual(try TraceFile.read(path: path), trace, "\(name).trace does not read back as it was made")
        }
    }

    /// The tests' one decodable model of report and gate JSON (LeakTrackTestSupport) reads every golden case.
    func testTheSharedModelReadsEveryGoldenReport() throws {
        for golden in Self.cases {
            let report = LeakReport(
                trace: try TraceFile.read(path: "\(Self.directory)/\(golden.trace).trace"), options: golden.options)
            let decoded = try ReportJSON.decode(JSONRenderer().render(report))
            XCTAssertEqual(UInt64(decoded.leaked.bytes), report.leakedBytes, golden.name)
            XCTAssertEqual(decoded.callSites.map(\.stacks), report.groups.map(\.stackCount), golden.name)
            XCTAssertEqual(decoded.memory.map { UInt64($0.resident) }, report.samples.map(\.residentBytes))
            XCTAssertEqual(UInt64(decoded.lost.skippedWords), report.lost.skippedWords, golden.name)
            XCTAssertEqual(decoded.lost.truncatedStacks, report.truncatedStacks, golden.name)
            XCTAssertEqual(decoded.symbolization?.unanswered, report.symbolization?.unanswered, golden.name)
            let gate = try GateJSON.decode(GateJSONRenderer().render(GateVerdict(LeakGate().evaluate([report]))))
            XCTAssertEqual(gate.offenders.map(\.stack.count), report.groups.map(\.stack.count), golden.name)
        }
    }

    func testEveryFormatOfEveryGoldenTraceIsAsExpected() throws {
        if Self.updating {
            for (name, trace) in CraftedTraces.all {
                try TraceFile.write(trace, to: "\(Self.directory)/\(name).trace", replacing: true)
            }
        }
        var compared = 0
        for golden in Self.cases {
            for (suffix, actual) in try Self.renderings(golden) {
                let path = "\(Self.directory)/\(golden.name).\(suffix)"
                if Self.updating {
                    try actual.write(toFile: path, atomically: true, encoding: .utf8)
                    continue
                }
                guard let expected = try? String(contentsOfFile: path, encoding: .utf8) else {
                    XCTFail("\(path) is missing: run scripts/golden --update and review what it writes")
                    continue
                }
                compared += 1
                if expected != actual {
                    XCTFail("\(golden.name).\(suffix) differs:\n" + diff(expected: path, actual: actual))
                }
            }
        }
        if !Self.updating { XCTAssertEqual(compared, Self.cases.count * 8) }
    }

    /// `diff -u` of the expected file against what was rendered.
    private func diff(expected path: String, actual: String) -> String {
        let actualPath = NSTemporaryDirectory() + "leaktrack-golden-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: actualPath) }
        guard (try? actual.write(toFile: actualPath, atomically: true, encoding: .utf8)) != nil else { return actual }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/diff")
        process.arguments = ["-u", "--label", "expected", "--label", "rendered", path, actualPath]
        let output = Pipe()
        process.standardOutput = output
        guard (try? process.run()) != nil else { return actual }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}
