import Foundation
import LeakTrackCore

#if canImport(Glibc)
    import Glibc
#endif

/// Where leaktrack's files are: the shim library, the executable itself, the current directory.
public enum Locations {
    public static var executablePath: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// libleaktrack.so: `explicit` (--preload), else LEAKTRACK_PRELOAD, else beside this executable, else ../lib/.
    public static func preloadLibrary(explicit: String?) throws -> String {
        if let path = explicit ?? ProcessEnvironment.get("LEAKTRACK_PRELOAD"), !path.isEmpty {
            guard FileManager.default.fileExists(atPath: path) else { throw CollectorError.preloadMissing(path: path) }
            return absolute(path)
        }
        let directory = (executablePath as NSString).deletingLastPathComponent
        for candidate in [directory + "/libleaktrack.so", directory + "/../lib/libleaktrack.so"]
        where FileManager.default.fileExists(atPath: candidate) {
            return (candidate as NSString).standardizingPath
        }
        throw CollectorError.preloadNotFound(besides: executablePath)
    }

    /// The current directory's absolute path; nil when it cannot be had (longer than PATH_MAX, or removed).
    public static var currentDirectory: String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return nil }
        return String(cString: buffer)
    }

    /// The current directory, or an error whose sentence ends with `advice`, what to do instead.
    public static func requireCurrentDirectory(_ advice: String) throws -> String {
        guard let directory = currentDirectory else { throw CollectorError.noCurrentDirectory(advice: advice) }
        return directory
    }

    public static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        return (currentDirectory ?? ".") + "/" + path
    }

    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
