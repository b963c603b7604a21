import ArgumentParser
import CLeakTrackSystem
import CLeakTrackWire
import Foundation
import LeakTrackCore
import LeakTrackSymbolize

#if canImport(Glibc)
    import Glibc
#endif

struct CollectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "collect",
        abstract: "Receive shim streams and write traces (started by the shim in bare LD_PRELOAD mode).",
        discussion: """
            With --listen-fd, serve the listening socket the shim handed over and exit when the last traced \
            process has gone. With --input, turn a saved raw stream into a trace.
            """)

    @Option(help: "File descriptor of a listening Unix socket to serve.")
    var listenFd: Int32?

    @Option(help: "Path of that socket, removed (with its directory) at exit.")
    var socket: String?

    @Option(help: "Directory for the trace files.")
    var outputDir: String = "."

    @Option(help: "A raw shim stream saved to a file, to turn into a trace.")
    var input: String?

    @Option(name: .shortAndLong, help: "Trace file to write with --input.")
    var output: String?

    func validate() throws {
        if (listenFd == nil) == (input == nil) { throw ValidationError("give exactly one of --listen-fd and --input") }
    }

    func run() throws {
        if let input {
            try collectFile(input)
            return
        }
        // Detach from the traced program's session: its Ctrl-C must not kill us before its trace is written.
        setsid()
        // Stopped on purpose (SIGTERM, SIGINT, SIGHUP), the collector still stores what it received.
        lt_install_stop_handlers()
        let fd = listenFd!
        defer {
            close(fd)
            if let socket { System.removeListener(directory: (socket as NSString).deletingLastPathComponent, path: socket) }
        }
        let naming = TraceNaming(directory: Locations.absolute(outputDir))
        let collector = Collector(listener: fd, naming: naming, acknowledgeAfterWriting: true) { Output.error($0) }
        let started = monotonicNanoseconds()
        collector.run { accepted, active in
            // Done when every process has gone; give up if none ever connects.
            (accepted > 0 && active == 0) || (accepted == 0 && monotonicNanoseconds() - started > 10_000_000_000)
        }
    }

    private func collectFile(_ input: String) throws {
        var decoder = StreamDecoder(name: input)
        let session = Session()
        var checked = CheckedSession(session: session, name: input)
        // In chunks, as from a socket: the collector's memory is the session's, whatever the file's size.
        try InputFile(path: input, kind: .rawStream).forEachChunk { try decoder.feed($0, into: &checked) }
        try decoder.finish()
        guard let hello = session.hello else { throw LeakTrackError.truncated(what: input) }
        let symbolizer = LLVMSymbolizer.locate().map { LLVMSymbolizer(executable: $0) }
        let trace = try session.makeTrace(symbolizer: symbolizer, endMonotonicNanoseconds: hello.monotonicNanoseconds, releasingLiveTable: true)
        let path = output ?? TraceNaming(directory: Locations.absolute(outputDir)).path(for: hello, attempt: 1)
        // -o names the file to write, like cc -o; a derived name never replaces an existing file.
        try TraceFile.write(trace, to: path, replacing: output != nil)
        Output.error("wrote \(path)")
    }
}

/// Forwards a saved stream's records to the session, refusing what the shim never writes and what the
/// session or the trace cannot hold: an allocation at address 0 (the live table's empty-slot marker), a block
/// larger than any allocator returns, a stack deeper than LT_MAX_DEPTH (the trace reader refuses both), a SKIP
/// longer than the largest ring.
private struct CheckedSession: StreamConsumer {
    let session: Session
    let name: String

    private func check(ptr: UInt64, size: UInt64) throws {
        guard ptr != 0 else { throw LeakTrackError.corrupted(what: name, detail: "an allocation at address 0") }
        guard size <= TraceFile.Limits.allocationSize else {
            throw LeakTrackError.corrupted(what: name, detail: "an allocation of \(size) bytes, more than any allocator returns")
        }
    }

    mutating func record(_ record: WireRecord) throws {
        switch record {
        case .stack(_, let frames) where frames.count > TraceFile.Limits.framesPerStack:
            throw LeakTrackError.corrupted(
                what: name, detail: "a stack of \(frames.count) frames, more than the shim's deepest stack (\(TraceFile.Limits.framesPerStack))")
        case .alloc(let ptr, let size, _, _): try check(ptr: ptr, size: size)
        case .reallocEnd(_, let ptr, let size, _, false, _) where ptr != 0: try check(ptr: ptr, size: size)
        // A SKIP covers words of one ring; the session adds them up, and two huge ones overflowed (a trap).
        case .skip(_, let words) where words > UInt64(1) << LT_RING_MAX_LOG2:
            throw LeakTrackError.corrupted(what: name, detail: "a SKIP of \(words) words, more than the largest ring holds")
        default: break
        }
        try session.apply(record)
    }

    mutating func alloc(ptr: UInt64, size: UInt64, stack: UInt32, kind: AllocKind) throws {
        try check(ptr: ptr, size: size)
        try session.alloc(ptr: ptr, size: size, stack: stack, kind: kind)
    }

    mutating func free(ptr: UInt64) throws { session.free(ptr: ptr) }
}
