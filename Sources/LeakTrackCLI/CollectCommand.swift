import ArgumentParser
import Foundation
import LeakTrackCollector
import LeakTrackCore

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
        let directory = Locations.absolute(outputDir)
        guard let input else {
            // Bare mode's settings come with the traced program's environment; a bad one is said, not fatal.
            let plan: SnapshotPlan
            do {
                plan = try SnapshotPlan.fromEnvironment(ProcessInfo.processInfo.environment)
            } catch {
                Output.error("\(error); sampling every second, with no snapshot rules")
                plan = SnapshotPlan()
            }
            BareMode.serve(listener: listenFd!, socketPath: socket, directory: directory, plan: plan) {
                Output.error($0)
            }
            return
        }
        let (trace, hello) = try RawStreamFile.trace(path: input)
        let path = output ?? TraceStore(directory: directory).path(for: hello)
        // -o names the file to write, like cc -o; a derived name never replaces an existing file.
        try TraceFile.write(trace, to: path, replacing: output != nil)
        Output.error("wrote \(path)")
    }
}
