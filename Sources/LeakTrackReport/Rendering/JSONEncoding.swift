import LeakTrackCore

/// The JSON spelling of what report JSON and gate JSON share, so the two cannot drift: a frame, a call site.
enum JSONEncoding {
    static func frame(_ f: ReportFrame) -> JSONValue {
        .object([
            "function": .string(f.function), "module": .string(f.module), "file": .optional(f.file),
            "line": .optional(f.line), "address": .string("0x" + String(f.address, radix: 16)),
            "inlined": .bool(f.inlined),
        ])
    }

    /// A call site: where, how much, how many stacks, and the one holding the most bytes (written as it goes).
    /// `sampled`: its amounts are estimates, and `samples` says from how many sampled blocks.
    static func callSite(_ g: LeakGroup, sampled: Bool = false) -> [String: JSONValue] {
        let site: [String: JSONValue] = [
            "function": .string(g.function), "module": .string(g.module), "file": .optional(g.file),
            "line": .optional(g.line), "bytes": .number(g.bytes), "count": .number(g.count),
            "stacks": .number(UInt64(g.stackCount)), "stack": .generated(g.stack, frame),
            "stackTruncated": .bool(g.stackTruncated),
        ]
        return withSamples(g.samples, site, sampled: sampled)
    }

    /// A sampled trace's amounts are estimates: each says from how many sampled blocks it was made.
    static func withSamples(_ samples: UInt64, _ fields: [String: JSONValue], sampled: Bool) -> [String: JSONValue] {
        guard sampled else { return fields }
        var fields = fields
        fields["samples"] = .number(samples)
        return fields
    }

    /// `"sampled": {"meanBytes", "samples"}`, or null for an exact trace.
    static func sampling(_ s: Sampling?) -> JSONValue {
        s.map {
            .object([
                "meanBytes": .number($0.meanBytes), "samples": .number($0.samples), "refused": .number($0.refused),
            ])
        } ?? .null
    }

    /// A call site's amounts at each snapshot and its growth verdict (report JSON, traces with growth).
    static func growth(_ g: SiteGrowth) -> [String: JSONValue] {
        [
            "snapshots": .array(zip(g.bytes, g.counts).map { .object(["bytes": .number($0), "count": .number($1)]) }),
            "growth": .object([
                "verdict": .string(g.verdict.rawValue), "bytesPerHour": .real(g.bytesPerHour),
                "bytesPerMillionAllocations": .real(g.bytesPerMillionAllocations), "steadiness": .real(g.steadiness),
            ]),
        ]
    }
}
