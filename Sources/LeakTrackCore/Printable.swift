extension String {
    /// The string with every control character escaped, for text output: a name that a traced program or a
    /// file chose (arguments, paths, function and file names) must not be able to move the cursor, recolor or
    /// clear the terminal, or forge lines of a report. `\n`, `\r` and `\t` become those two characters; other
    /// C0 controls and DEL become `\xHH`; C1 controls (which some terminals obey too) and the Unicode
    /// formatting characters that reorder or hide text (bidirectional overrides and isolates) become `\u{HHHH}`.
    /// Everything else, backslashes included, is left as it is, so ordinary names print unchanged.
    public var escapingControlCharacters: String {
        guard unicodeScalars.contains(where: String.needsEscape) else { return self }
        var out = ""
        out.reserveCapacity(utf8.count + 8)
        for scalar in unicodeScalars {
            guard String.needsEscape(scalar) else {
                out.unicodeScalars.append(scalar)
                continue
            }
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x80: out += "\\x" + String(scalar.value, radix: 16).leftPadded(to: 2)
            default: out += "\\u{" + String(scalar.value, radix: 16).leftPadded(to: 4) + "}"
            }
        }
        return out
    }

    /// At most `limit` characters of the string, escaped, for quoting a file's text in a one-line message.
    public func excerpt(limit: Int = 80) -> String {
        (count > limit ? String(prefix(limit)) + "…" : self).escapingControlCharacters
    }

    public static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0..<0x20, 0x7F...0x9F: return true
        // Left-to-right and right-to-left marks, embeddings, overrides and isolates.
        case 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: return true
        // Line and paragraph separators: line breaks to some terminals and editors.
        case 0x2028, 0x2029: return true
        default: return false
        }
    }
}
