import Foundation
import LeakTrackCore

/// Where traces go and what they are called: leaktrack.PROGRAM.PID.trace in one directory; a pid that exec'd
/// the same program again gets .2, .3, ... Shared by the connections of one collector, which must not pick
/// the same name twice.
public final class TraceStore: @unchecked Sendable {
    public let directory: String
    private let usedPaths = Locked(Set<String>())
    /// Predictable names tried before random ones.
    static let maxNameAttempts = 1000

    public init(directory: String) {
        self.directory = directory
    }

    /// The name for `hello`'s trace; `label` names a snapshot ("snapshot-3"), `suffix` tells apart the images of
    /// one pid.
    public func path(for hello: Hello, label: String? = nil, suffix: String? = nil) -> String {
        let name = hello.executable.split(separator: "/").last.map(String.init) ?? "process"
        return "\(directory)/leaktrack.\(name).\(hello.pid)" + (label.map { ".\($0)" } ?? "")
            + (suffix.map { ".\($0)" } ?? "") + ".trace"
    }

    private func path(for hello: Hello, label: String?, attempt: Int) -> String {
        path(for: hello, label: label, suffix: attempt > 1 ? String(attempt) : nil)
    }

    /// Writes the trace under the first free name: a pid that exec'd the same program again, or a trace left
    /// by an earlier run with a recycled pid, moves this one to .2, .3, ... (an existing file is never replaced;
    /// another collector may be writing into the same directory). Returns the path.
    public func write(_ trace: Trace, hello: Hello, label: String? = nil) throws -> String {
        for attempt in 1...TraceStore.maxNameAttempts + 100 {
            // Past the predictable names (which anyone who can write to the directory can plant), random ones.
            let path =
                attempt <= TraceStore.maxNameAttempts
                ? path(for: hello, label: label, attempt: attempt)
                : path(for: hello, label: label, suffix: String(UInt64.random(in: 0...UInt64.max), radix: 16))
            if !usedPaths.update({ $0.insert(path).inserted }) { continue }
            do {
                try TraceFile.write(trace, to: path)
                return path
            } catch LeakTrackError.exists {
                continue
            }
        }
        throw LeakTrackError.exists(path: path(for: hello, label: label, attempt: TraceStore.maxNameAttempts))
    }

    /// The newest leaktrack.*.trace in `directory`.
    public static func newest(in directory: String) throws -> String {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var best: (path: String, time: Date)?
        for name in names where name.hasPrefix("leaktrack.") && name.hasSuffix(".trace") {
            let path = directory + "/" + name
            let time =
                (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date) ?? .distantPast
            if best == nil || time > best!.time { best = (path, time) }
        }
        guard let best else { throw CollectorError.noTrace(directory: directory) }
        return best.path
    }
}
