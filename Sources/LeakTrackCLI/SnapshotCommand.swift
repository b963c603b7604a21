import ArgumentParser
import LeakTrackCollector

struct SnapshotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot",
        abstract: "Have a traced process's collector write a snapshot of its heap now, and print where it went.",
        discussion: """
            PID is the traced process (see leaktrack ps), under leaktrack record or a bare LD_PRELOAD. The \
            snapshot is a trace file that report, diff, show and check read while the process runs on.
            """)

    @Argument(help: "The traced process's pid.")
    var pid: UInt32

    func run() throws {
        let answer = try ControlChannel.request("snapshot", pid: pid)
        guard let path = answer["path"] as? String else {
            throw CollectorError.control(pid: pid, problem: "it did not say where the snapshot went")
        }
        Output.print(path + "\n")
        Output.error("snapshot \(answer["index"] as? Int ?? 0) of pid \(pid); see it with: leaktrack report \(path)")
    }
}
