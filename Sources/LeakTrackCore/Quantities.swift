/// Sizes and durations as people type them on command lines and in environment variables.
public enum Quantities {
    /// "800M", "1G", "512K", "4096", "1.5G": binary units (K = 1024), an optional trailing "B" or "iB".
    public static func bytes(_ text: String) -> UInt64? {
        var body = Substring(text.trimmingWhitespace.uppercased())
        if body.hasSuffix("IB") { body = body.dropLast(2) } else if body.hasSuffix("B") { body = body.dropLast() }
        let units: [Character: Double] = ["K": 1024, "M": 1_048_576, "G": 1_073_741_824, "T": 1_099_511_627_776]
        var scale = 1.0
        if let last = body.last, let unit = units[last] {
            scale = unit
            body = body.dropLast()
        }
        guard !body.isEmpty, body.allSatisfy({ $0.isNumber || $0 == "." }), let value = Double(body) else { return nil }
        let bytes = value * scale
        guard bytes >= 0, bytes < 1.8e19 else { return nil }
        return UInt64(bytes)
    }

    /// "10ms", "1s", "1.5s", "10m", "2h", "1d"; a bare number is seconds. Nanoseconds.
    public static func duration(_ text: String) -> UInt64? {
        let body = text.trimmingWhitespace.lowercased()
        let units: [(String, Double)] = [
            ("ms", 1e6), ("us", 1e3), ("ns", 1), ("s", 1e9), ("m", 60e9), ("h", 3600e9), ("d", 86400e9),
        ]
        var number = Substring(body), scale = 1e9
        for (suffix, value) in units where body.hasSuffix(suffix) {
            number = number.dropLast(suffix.count)
            scale = value
            break
        }
        guard !number.isEmpty, number.allSatisfy({ $0.isNumber || $0 == "." }), let value = Double(number) else {
            return nil
        }
        let nanoseconds = value * scale
        guard nanoseconds >= 0, nanoseconds < 9e18 else { return nil }
        return UInt64(nanoseconds)
    }

    /// 800 MiB -> "800M", 1 GiB -> "1G", 1000 -> "1000": the largest binary unit that divides it exactly.
    public static func shortBytes(_ bytes: UInt64) -> String {
        for (unit, size) in [("T", UInt64(1) << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)]
        where bytes >= size && bytes % size == 0 {
            return "\(bytes / size)\(unit)"
        }
        return "\(bytes)"
    }
}

extension String {
    var trimmingWhitespace: String {
        var s = Substring(self)
        while let first = s.first, first.isWhitespace { s = s.dropFirst() }
        while let last = s.last, last.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
