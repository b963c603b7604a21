import LeakTrackCore

/// `show TRACE ADDRESS` (WinDbg's `!heap -p -a`): the live block containing an address, with its stack.
public struct BlockReport: Equatable, Sendable {
    public var address: UInt64
    public var start: UInt64
    public var size: UInt64
    /// Seconds between the allocation and the end of the trace (or its snapshot).
    public var ageSeconds: Double
    /// The allocating thread: its ordinal in the stream, and its tid and name where the trace knows them.
    public var threadOrdinal: UInt16
    public var thread: ThreadInfo?
    public var frames: [ReportFrame]
    public var stackTruncated: Bool

    /// The block live in `trace` that contains `address` (its start included; a zero-byte block contains only
    /// its start), or nil when none does.
    public init?(trace: Trace, address: UInt64, demangle: Bool = true) {
        var found: LiveAllocation?
        for block in trace.live where block.address <= address {
            let inside = block.size == 0 ? address == block.address : address - block.address < block.size
            if inside, found == nil || block.address > found!.address { found = block }
        }
        guard let block = found else { return nil }
        let resolver = FrameResolver(trace: trace, demangle: demangle)
        let id = Int(block.stack)
        let end = trace.process.durationNanoseconds
        self.address = address
        start = block.address
        size = block.size
        ageSeconds = Double(end &- min(block.time, end)) / 1e9
        threadOrdinal = block.thread
        thread = trace.threads.first { $0.ordinal == UInt32(block.thread) }
        frames = block.stack == SpecialStack.dropped ? [] : resolver.frames(ofStack: id)
        stackTruncated = id < trace.stacks.count && trace.stacks[id].truncated
    }
}

/// `show`'s text: the block, then its allocation stack.
public struct BlockTextRenderer: Renderer {
    public init() {}

    public func render<Output: TextOutputStream>(_ block: BlockReport, to out: inout Output) {
        func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }
        let offset = block.address - block.start
        out.write("address \(hex(block.address)) is \(offset) bytes into a live block of \(block.size) bytes\n")
        out.write("  start   \(hex(block.start))\n")
        out.write("  size    \(block.size) (\(formatBytes(block.size)))\n")
        out.write("  age     \(formatSeconds(block.ageSeconds))\n")
        let thread =
            block.thread.map { "tid \($0.tid) \"\($0.name.escapingControlCharacters)\" (#\(block.threadOrdinal))" }
            ?? (block.threadOrdinal == 0 ? "unknown" : "#\(block.threadOrdinal)")
        out.write("  thread  \(thread)\n")
        out.write("allocation stack:\n")
        if block.frames.isEmpty { out.write("    (not recorded: the stack table was full)\n") }
        let text = TextRenderer()
        for (depth, frame) in block.frames.enumerated() { out.write(text.frameLine(frame, depth: depth)) }
        if block.stackTruncated { out.write("    ... the stack went deeper (LEAKTRACK_DEPTH)\n") }
    }
}

/// `show --format json`.
public struct BlockJSONRenderer: Renderer {
    public init() {}

    public func render<Output: TextOutputStream>(_ block: BlockReport, to out: inout Output) {
        func hex(_ value: UInt64) -> JSONValue { .string("0x" + String(value, radix: 16)) }
        let root: JSONValue = .object([
            "address": hex(block.address), "start": hex(block.start), "size": .number(block.size),
            "ageSeconds": .real(block.ageSeconds),
            "thread": .object([
                "ordinal": .number(UInt64(block.threadOrdinal)),
                "tid": block.thread.map { .number(UInt64($0.tid)) } ?? .null,
                "name": block.thread.map { .string($0.name) } ?? .null,
            ]),
            "stack": .array(block.frames.map(JSONEncoding.frame)), "stackTruncated": .bool(block.stackTruncated),
        ])
        root.write(to: &out)
        out.write("\n")
    }
}
