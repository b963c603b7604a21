import Foundation
import LeakTrackCore

/// Reads a file of fold patterns: one per line, `#` comments and blank lines ignored.
public enum PatternFile {
    public static func read(path: String) throws -> [String] {
        try InputFile.text(path: path, kind: "fold file").split(separator: "\n")
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
    }
}

/// Reads LeakSanitizer-style suppression files: `leak:PATTERN` lines, `#` comments, blank lines.
public enum SuppressionFile {
    public static func read(path: String) throws -> [Suppressions.Rule] {
        let text = try InputFile.text(path: path, kind: "suppression file")
        var rules: [Suppressions.Rule] = []
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard line.hasPrefix("leak:"), line.count > 5 else {
                throw LeakTrackError.malformed(
                    path: path, line: number + 1, detail: "expected leak:PATTERN, found \"\(line.excerpt())\"")
            }
            rules.append(
                Suppressions.Rule(pattern: Pattern(String(line.dropFirst(5))), reason: "\(path):\(number + 1)"))
        }
        return rules
    }
}
