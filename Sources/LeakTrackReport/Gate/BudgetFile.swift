import LeakTrackCore

/// The gate's budget file (`leaktrack check --budgets FILE`): one budget a line, `#` comments.
///
/// ```
/// max-leaked-bytes 4096                          # the total for call sites no rule below matches
/// max-leaks 10
/// function CFoo_crtheap max-bytes 1048576        # * wildcards; C++ names with or without parameters
/// module libleakcom.so max-count 200
/// callsite server.c:16 max-bytes 1024 max-count 8
/// ```
public struct BudgetFile: Equatable, Sendable {
    public var maxLeakedBytes: UInt64?
    public var maxLeaks: UInt64?
    public var rules: [BudgetRule] = []

    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public var description: String
    }

    public static func parse(_ text: String, name: String) throws -> BudgetFile {
        var file = BudgetFile()
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line =
                raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            if words.isEmpty { continue }
            let origin = "\(name):\(index + 1)"
            func fail(_ why: String) -> ParseError { ParseError(description: "\(origin): \(why)") }
            func number(_ text: String) throws -> UInt64 {
                guard let value = UInt64(text) else { throw fail("\"\(text.excerpt())\" is not a number") }
                return value
            }
            switch words[0] {
            case "max-leaked-bytes", "max-leaks":
                guard words.count == 2 else { throw fail("expected \(words[0]) N") }
                if words[0] == "max-leaks" {
                    file.maxLeaks = try number(words[1])
                } else {
                    file.maxLeakedBytes = try number(words[1])
                }
            case "function", "module", "callsite":
                guard words.count >= 4, words.count % 2 == 0 else {
                    throw fail("expected \(words[0]) PATTERN max-bytes N and/or max-count N")
                }
                var rule = BudgetRule(
                    subject: BudgetRule.Subject(rawValue: words[0])!, pattern: Pattern(words[1]),
                    maxBytes: nil, maxCount: nil, origin: origin)
                for pair in stride(from: 2, to: words.count, by: 2) {
                    switch words[pair] {
                    case "max-bytes": rule.maxBytes = try number(words[pair + 1])
                    case "max-count": rule.maxCount = try number(words[pair + 1])
                    default: throw fail("unknown limit \"\(words[pair].excerpt())\" (max-bytes or max-count)")
                    }
                }
                file.rules.append(rule)
            default:
                throw fail(
                    "unknown budget \"\(words[0].excerpt())\" (max-leaked-bytes, max-leaks, function, module or callsite)"
                )
            }
        }
        return file
    }
}
