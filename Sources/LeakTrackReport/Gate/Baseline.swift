import LeakTrackCore

/// Today's leaks per call site, committed next to the code, so a gate can fail only on what is new or grown.
///
/// Call sites are keyed by module, function and source file name, never by address or line: a rebuild moves
/// addresses and an unrelated edit moves lines, and neither should break the gate. Several lines of one
/// function add up to one entry.
///
/// The file is text, one entry a line, sorted, so a change to it reads well in a review:
/// ```
/// # leaktrack baseline 1
/// # bytes<TAB>count<TAB>module<TAB>function<TAB>file
/// 1024000	100	libleakcom.so	CFoo_crtheap	leakcom.c
/// ```
public struct Baseline: Equatable, Sendable {
    public static let header = "# leaktrack baseline 1"

    /// A baseline's call site: module, function and source file name (`CallSiteID.Precision.baseline`).
    public typealias Key = CallSiteID

    public struct Entry: Equatable, Sendable {
        public var key: Key
        public var bytes: UInt64
        public var count: UInt64
        public var module: String { key.module }
        public var function: String { key.function }

        /// Adds another call site's amounts (saturating: a hand-edited baseline must not trap).
        mutating func add(bytes: UInt64, count: UInt64) {
            self.bytes = self.bytes.saturatingAdd(bytes)
            self.count = self.count.saturatingAdd(count)
        }
    }

    public var entries: [Key: Entry]

    public init(entries: [Key: Entry] = [:]) { self.entries = entries }

    /// The baseline of these call sites (as the gate merged them).
    public init(callSites: [LeakGroup]) {
        var entries: [Key: Entry] = [:]
        for site in callSites {
            let key = CallSiteID(site).at(.baseline)
            entries[key, default: Entry(key: key, bytes: 0, count: 0)].add(bytes: site.bytes, count: site.count)
        }
        self.entries = entries
    }

    public func encoded() -> String {
        var out = Baseline.header + "\n# bytes\tcount\tmodule\tfunction\tfile\n"
        for entry in entries.values.sorted(by: { $0.key < $1.key }) {
            out += "\(entry.bytes)\t\(entry.count)\t\(entry.key.module)\t\(entry.key.function)\t\(entry.key.file)\n"
        }
        return out
    }

    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case notABaseline(name: String)
        case badLine(name: String, line: Int, text: String)

        public var description: String {
            switch self {
            case .notABaseline(let name):
                return
                    "\(name) is not a leaktrack baseline (its first line is not \"\(Baseline.header)\"); write one with check --write-baseline"
            case .badLine(let name, let line, let text):
                return
                    "\(name):\(line): expected bytes, count, module, function and file separated by tabs, found \"\(text.excerpt())\""
            }
        }
    }

    public static func parse(_ text: String, name: String) throws -> Baseline {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard lines.first == header else { throw ParseError.notABaseline(name: name) }
        lines.removeFirst()
        var entries: [Key: Entry] = [:]
        for (index, line) in lines.enumerated() where !line.isEmpty && !line.hasPrefix("#") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 5, let bytes = UInt64(fields[0]), let count = UInt64(fields[1]), !fields[3].isEmpty
            else {
                throw ParseError.badLine(name: name, line: index + 2, text: line)
            }
            let key = Key(module: fields[2], function: fields[3], file: fields[4])
            entries[key, default: Entry(key: key, bytes: 0, count: 0)].add(bytes: bytes, count: count)
        }
        return Baseline(entries: entries)
    }
}
