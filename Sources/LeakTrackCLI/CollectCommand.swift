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
        // In chunks, as from a socket: the collector's memory is the session's, whatever the file's size. The
        // decoder and the session refuse what no shim writes, as they do for a live stream.
        try InputFile(path: input, kind: .rawStream).forEachChunk { try decoder.feed($0, into: session) }
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
