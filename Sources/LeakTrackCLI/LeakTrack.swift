import ArgumentParser
import LeakTrackCollector
import LeakTrackCore

#if canImport(Glibc)
    import Glibc
#endif

/// The root command. Exit status: 0 success, 2 usage or tool error; `record` passes the command's own status.
public struct LeakTrack: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "leaktrack",
        abstract: "Find memory leaks in Linux processes: a stack for every allocation, a report per call site.",
        version: "0.1.0",
        subcommands: [
            RecordCommand.self, ReportCommand.self, CheckCommand.self, DiffCommand.self, ShowCommand.self,
            SnapshotCommand.self, PsCommand.self, DumpCommand.self, CollectCommand.self,
        ])

    public init() {}

    /// Parses the command line, runs, and exits with leaktrack's documented statuses.
    public static func runMain() -> Never {
        ProcessSetup.prepare()
        do {
            var command = try parseAsRoot()
            try command.run()
            Glibc.exit(0)
        } catch let code as ExitCode {
            Glibc.exit(code.rawValue)
        } catch let error as UserFacingError {
            Output.error(error.description)
            Glibc.exit(2)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                Output.print(fullMessage(for: error) + "\n")
                Glibc.exit(0)
            }
            Output.error(fullMessage(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)")
            Glibc.exit(2)
        }
    }
}
