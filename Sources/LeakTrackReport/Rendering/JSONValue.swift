/// A JSON document built in code and printed with sorted keys, so output is stable for tools and diffs.
/// (Foundation's encoders drop nil fields; reports promise `null` for a missing file or line.)
public indirect enum JSONValue {
    case object([String: JSONValue])
    case array([JSONValue])
    /// An array whose elements are made one at a time while it is written: a report's stacks can hold
    /// millions of frames, and a tree of them all took five times the memory of the text they print.
    case generated(count: Int, element: (Int) -> JSONValue)
    case string(String)
    case number(UInt64)
    /// A number that may be negative (a line number from a hand-made trace must not trap the renderer).
    case integer(Int)
    /// A fractional number (seconds, rates), rounded to 3 decimals; not finite becomes null.
    case real(Double)
    case bool(Bool)
    case null

    public static func optional(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
    public static func optional(_ value: Int?) -> JSONValue { value.map { .integer($0) } ?? .null }

    /// The elements of `items`, made by `element` as they are written.
    public static func generated<C: RandomAccessCollection>(_ items: C, _ element: @escaping (C.Element) -> JSONValue)
        -> JSONValue
    where C.Index == Int {
        .generated(count: items.count, element: { element(items[items.startIndex + $0]) })
    }

    public func rendered(indent: Int = 0) -> String {
        var out = ""
        write(to: &out, indent: indent)
        return out
    }

    /// Writes the document to `out` as it goes (pretty-printed, two spaces an indent level).
    public func write<Target: TextOutputStream>(to out: inout Target, indent: Int = 0) {
        var pad: String { String(repeating: "  ", count: indent + 1) }
        var closePad: String { String(repeating: "  ", count: indent) }
        func items(_ count: Int, _ item: (Int) -> JSONValue) {
            if count == 0 {
                out.write("[]")
                return
            }
            let pad = pad
            out.write("[\n")
            for i in 0..<count {
                out.write(pad)
                item(i).write(to: &out, indent: indent + 1)
                out.write(i == count - 1 ? "\n" : ",\n")
            }
            out.write(closePad + "]")
        }
        switch self {
        case .object(let members):
            if members.isEmpty {
                out.write("{}")
                return
            }
            let pad = pad
            out.write("{\n")
            for (i, key) in members.keys.sorted().enumerated() {
                out.write(pad + JSONValue.quote(key) + ": ")
                members[key]!.write(to: &out, indent: indent + 1)
                out.write(i == members.count - 1 ? "\n" : ",\n")
            }
            out.write(closePad + "}")
        case .array(let elements): items(elements.count) { elements[$0] }
        case .generated(let count, let element): items(count, element)
        case .string(let s): out.write(JSONValue.quote(s))
        case .number(let n): out.write(String(n))
        case .integer(let n): out.write(String(n))
        case .real(let x):
            guard x.isFinite else {
                out.write("null")
                break
            }
            let rounded = (x * 1000).rounded() / 1000
            out.write(rounded == rounded.rounded() && abs(rounded) < 1e15 ? String(Int64(rounded)) : String(rounded))
        case .bool(let b): out.write(b ? "true" : "false")
        case .null: out.write("null")
        }
    }

    static func quote(_ s: String) -> String {
        // Most names are printable ASCII with nothing to escape.
        if s.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) {
            return "\"" + s + "\""
        }
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
