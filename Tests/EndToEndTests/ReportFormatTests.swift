import Foundation
import XCTest

/// `leaktrack report --format ...` on the command line writes what the renderers write: the golden tier's
/// expected files (Tests/Golden), byte for byte, for the traces analyzed with the default options.
final class ReportFormatTests: EndToEndTestCase {
    func testEveryReportFormatIsTheGoldenRendering() throws {
        let golden = Harness.packageRoot + "/Tests/Golden"
        for name in ["demo", "cpp", "killed", "losses"] {
            for (format, suffix) in [("text", "report.txt"), ("json", "report.json"), ("folded", "report.folded")] {
                let result = try harness.run([
                    harness.leaktrack, "report", "--format", format, "\(golden)/\(name).trace",
                ])
                XCTAssertEqual(result.status, 0, result.stderr)
                let expected = try String(contentsOfFile: "\(golden)/\(name).\(suffix)", encoding: .utf8)
                XCTAssertEqual(result.stdout, expected, "report --format \(format) of \(name).trace")
            }
        }
    }
}
