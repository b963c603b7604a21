/// A JSON document built in code and printed with sorted keys, so output is stable for tools and diffs.
/// (Foundation's encoders drop nil fields; reports promise `null` for a missing file or line.)
public indirect enum JSONValue: Equatable {
    case object([String: JSONValue])
    case array([JSONValue])
    case string(String)
    case number(UInt64)
    /// A number that may be negative (a line number from a hand-made trace must not trap the renderer).
    case integer(Int)
    case bool(Bool)
    case null

    public static func optional(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
    public static func optional(_ value: Int?) -> JSONValue { value.map { .integer($0) } ?? .null }

    public func rendered(indent: Int = 0) -> String {
        var out = ""
        write(to: &out, indent: indent, pretty: true)
        return out
    }

    private func write(to out: inout String, indent: Int, pretty: Bool) {
        let pad = String(repeating: "  ", count: indent + 1), closePad = String(repeating: "  ", count: indent)
        switch self {
        case .object(let members):
            if members.isEmpty {
                out += "{}"
                return
            }
            out += "{\n"
            for (i, key) in members.keys.sorted().enumerated() {
                out += pad + JSONValue.quote(key) + ": "
                members[key]!.write(to: &out, indent: indent + 1, pretty: pretty)
                out += i == members.count - 1 ? "\n" : ",\n"
            }
            out += closePad + "}"
        case .array(let items):
            if items.isEmpty {
                out += "[]"
                return
            }
            out += "[\n"
            for (i, item) in items.enumerated() {
                out += pad
                item.write(to: &out, indent: indent + 1, pretty: pretty)
                out += i == items.count - 1 ? "\n" : ",\n"
            }
            out += closePad + "]"
        case .string(let s): out += JSONValue.quote(s)
        case .number(let n): out += String(n)
        case .integer(let n): out += String(n)
        case .bool(let b): out += b ? "true" : "false"
        case .null: out += "null"
        }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            // Besides what JSON requires (below 0x20), what could drive a terminal that shows the JSON: DEL,
            // C1 controls, bidirectional overrides, line and paragraph separators (see escapingControlCharacters).
            case _ where scalar.value < 0x20 || String.needsEscape(scalar):
                out += "\\u" + String(scalar.value, radix: 16).leftPadded(to: 4)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

extension String {
    func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }

    func rightPadded(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
