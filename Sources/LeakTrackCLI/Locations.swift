import Foundation
import LeakTrackCore

#if canImport(Glibc)
    import Glibc
#endif

/// Where leaktrack's files are: the shim library, traces, the executable itself.
enum Locations {
    static var executablePath: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// libleaktrack.so: --preload, else LEAKTRACK_PRELOAD, else beside this executable, else ../lib/.
    static func preloadLibrary(explicit: String?) throws -> String {
        if let path = explicit ?? ProcessEnvironment.get("LEAKTRACK_PRELOAD"), !path.isEmpty {
            guard FileManager.default.fileExists(atPath: path) else {
                throw LeakTrackError.usage("the preload library \(path) does not exist")
            }
            return absolute(path)
        }
        let directory = (executablePath as NSString).deletingLastPathComponent
        for candidate in [directory + "/libleaktrack.so", directory + "/../lib/libleaktrack.so"]
        where FileManager.default.fileExists(atPath: candidate) {
            return (candidate as NSString).standardizingPath
        }
        throw LeakTrackError.usage(
            "cannot find libleaktrack.so beside \(executablePath); build it with scripts/build or pass --preload PATH")
    }

    /// The current directory's absolute path; nil when it cannot be had (longer than PATH_MAX, or removed).
    static var currentDirectory: String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return nil }
        return String(cString: buffer)
    }

    /// The current directory, or a one-line error that says what to do instead.
    static func requireCurrentDirectory(_ advice: String) throws -> String {
        guard let directory = currentDirectory else {
            throw LeakTrackError.usage("cannot resolve the current directory (its path is too long, or it was removed); \(advice)")
        }
        return directory
    }

    static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        return (currentDirectory ?? ".") + "/" + path
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// The newest leaktrack.*.trace in the current directory.
    static func newestTrace() throws -> String {
        let directory = try requireCurrentDirectory("name the trace file")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var best: (path: String, time: Date)?
        for name in names where name.hasPrefix("leaktrack.") && name.hasSuffix(".trace") {
            let path = directory + "/" + name
            let time = (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date) ?? .distantPast
            if best == nil || time > best!.time { best = (path, time) }
        }
        guard let best else {
            throw LeakTrackError.usage("no leaktrack.*.trace in \(directory); name a trace file, or record one with leaktrack record -- CMD")
        }
        return best.path
    }
}

/// All user-facing output goes through here, so messages share one prefix and stream.
enum Output {
    /// One line: control characters in the message (a path, or text quoted from a file) are escaped.
    static func error(_ message: String) {
        try? System.writeAll(STDERR_FILENO, "leaktrack: " + message.escapingControlCharacters + "\n")
    }

    /// Writes to stdout. A reader that went away (`leaktrack dump FILE | head`) ends the command quietly, with
    /// `closedPipeStatus` (check keeps its verdict: a failing gate piped into head must not pass).
    static func print(_ text: String, closedPipeStatus: Int32 = 0) {
        do {
            try System.writeAll(STDOUT_FILENO, text)
        } catch LeakTrackError.system(_, let code) where code == EPIPE {
            Glibc.exit(closedPipeStatus)
        } catch {
            Output.error("cannot write the output: \(error)")
            Glibc.exit(2)
        }
    }
}

/// Standard output in blocks of 64 KiB, for output written as it is made (dump's records, a JSON report):
/// one write per piece would be one system call per record. Call `flush()` at the end.
struct BufferedOutput: TextOutputStream {
    private var buffer = ""

    mutating func write(_ text: String) {
        buffer += text
        if buffer.utf8.count >= 1 << 16 { flush() }
    }

    mutating func line(_ text: String) {
        write(text)
        write("\n")
    }

    mutating func flush() {
        guard !buffer.isEmpty else { return }
        Output.print(buffer)
        buffer = ""
    }
}

