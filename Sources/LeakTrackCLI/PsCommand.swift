import ArgumentParser
import Foundation
import LeakTrackCollector
import LeakTrackCore
import LeakTrackReport

struct PsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ps",
        abstract: "List this user's traced processes: pid, program, uptime, memory, snapshots, where the trace goes.")

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    func validate() throws {
        guard format == .text || format == .json else { throw ValidationError("ps writes --format text, json") }
    }

    func run() throws {
        let statuses = try ControlChannel.statuses()
        if format == .json {
            let data = try JSONSerialization.data(withJSONObject: statuses, options: [.sortedKeys])
            Output.print(String(decoding: data, as: UTF8.self) + "\n")
            return
        }
        guard !statuses.isEmpty else {
            Output.error("no traced processes for this user")
            return
        }
        func bytes(_ key: String, _ status: [String: Any]) -> String {
            formatBytes((status[key] as? NSNumber)?.uint64Value ?? 0)
        }
        let rows = statuses.map { status -> [String] in
            let uptime = (status["uptimeSeconds"] as? NSNumber)?.doubleValue ?? 0
            return [
                "\(status["pid"] as? Int ?? 0)", formatDuration(UInt64(uptime * 1e9)), bytes("resident", status),
                bytes("heapBytes", status), "\(status["snapshots"] as? Int ?? 0)",
                ((status["program"] as? String) ?? "?"), (status["trace"] as? String) ?? "?",
            ]
        }
        Output.print(
            TextTable.render(rows, header: ["pid", "uptime", "resident", "heap", "snapshots", "program", "trace"]))
    }
}
