/// A glob over names: `*` matches any run of characters, everything else matches itself. The syntax of
/// LeakSanitizer suppressions and of leaktrack's fold list.
public struct Pattern: Hashable, Sendable, CustomStringConvertible {
    public let text: String
    private let parts: [Substring]

    public init(_ text: String) {
        self.text = text
        self.parts = text.split(separator: "*", omittingEmptySubsequences: false)
    }

    public var description: String { text }

    public func matches(_ name: String) -> Bool {
        if parts.count == 1 { return name == text }
        var rest = Substring(name)
        guard rest.hasPrefix(parts[0]) else { return false }
        rest = rest.dropFirst(parts[0].count)
        for part in parts.dropFirst().dropLast() where !part.isEmpty {
            guard let found = rest.firstRange(of: part) else { return false }
            rest = rest[found.upperBound...]
        }
        return rest.hasSuffix(parts[parts.count - 1])
    }
}
