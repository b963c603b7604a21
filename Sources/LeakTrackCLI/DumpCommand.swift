import ArgumentParser
import LeakTrackCore

struct DumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Print a trace file, or a raw shim stream, as readable lines (one record per line).")

    @Argument(help: "A trace file or a raw stream file.")
    var file: String

    func run() throws {
        var out = BufferedOutput()
        defer { out.flush() }
        try TraceDump.dump(path: file) { out.line($0) }
    }
}
