import ArgumentParser
import CLeakTrackSystem
import Foundation
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
        subcommands: [RecordCommand.self, ReportCommand.self, CheckCommand.self, DumpCommand.self, CollectCommand.self])

    public init() {}

    /// Parses the command line, runs, and exits with leaktrack's documented statuses.
    public static func runMain() -> Never {
        // A traced process that has gone must not kill the collector with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        // Started with a standard stream closed (by a daemon, or `2>&-`), the first file we open would get its
        // number, and every message would be written into a trace or a socket.
        for stream in 0...2 where fcntl(Int32(stream), F_GETFD) < 0 {
            _ = open("/dev/null", stream == 0 ? O_RDONLY : O_WRONLY)
        }
        // A collector holds descriptors for every process it serves; a program's low limit is not ours.
        lt_raise_descriptor_limit()
        do {
            var command = try parseAsRoot()
            try command.run()
            Glibc.exit(0)
        } catch let code as ExitCode {
            Glibc.exit(code.rawValue)
        } catch let error as LeakTrackError {
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
