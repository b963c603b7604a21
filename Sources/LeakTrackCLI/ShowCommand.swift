import ArgumentParser
import LeakTrackCore
import LeakTrackReport

struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show the live block that contains an address: start, size, age, thread and allocation stack.",
        discussion: "Like WinDbg's !heap -p -a. Exit status 1 when no block live in the trace contains the address.")

    @Argument(help: "A trace or snapshot file.")
    var trace: String

    @Argument(help: "The address, in hex (0x...); any byte of the block, not only its start.")
    var address: String

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    @Flag(help: "Show C++ and Swift names as the binaries spell them (mangled).")
    var noDemangle = false

    func validate() throws {
        guard format == .text || format == .json else { throw ValidationError("show writes --format text, json") }
        guard parsedAddress != nil else {
            throw ValidationError("give the address in hex, like 0x7f3a12c0, not '\(address)'")
        }
    }

    private var parsedAddress: UInt64? {
        let digits = address.lowercased().hasPrefix("0x") ? String(address.dropFirst(2)) : address
        guard !digits.isEmpty, digits.count <= 16 else { return nil }
        return UInt64(digits, radix: 16)
    }

    func run() throws {
        let loaded = try TraceFile.read(path: trace)
        guard let block = BlockReport(trace: loaded, address: parsedAddress!, demangle: !noDemangle) else {
            Output.error(
                "no block live in \(trace) contains \(address)"
                    + (loaded.sampling != nil ? " (the trace is sampled: it holds only the sampled blocks)" : ""))
            throw ExitCode(1)
        }
        let renderer: any Renderer<BlockReport> = format == .json ? BlockJSONRenderer() : BlockTextRenderer()
        Output.print(renderer.render(block))
    }
}
