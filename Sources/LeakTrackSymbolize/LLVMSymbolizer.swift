import Foundation
import LeakTrackCore

/// Symbolizes with `llvm-symbolizer` run once per batch as a long-lived process: function names,
/// file:line:column and inlined frames, from DWARF, .symtab and .dynsym, and from separate debug files
/// (`.gnu_debuglink`, and `DIR/.build-id/xx/yyyy.debug` under each debug directory). Names come back raw
/// and are demangled here (C++ and Swift), so the trace keeps both spellings.
public struct LLVMSymbolizer: Symbolizer {
    public let executable: String
    /// Directories searched for separate debug files by build id: /usr/lib/debug and LEAKTRACK_DEBUG_DIRS.
    public var debugDirectories: [String]

    public init(executable: String, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.executable = executable
        let extra = (environment["LEAKTRACK_DEBUG_DIRS"] ?? "").split(separator: ":").map(String.init)
        debugDirectories = (extra + ["/usr/lib/debug"]).filter { FileManager.default.fileExists(atPath: $0) }
    }

    /// Finds llvm-symbolizer: LEAKTRACK_SYMBOLIZER, else beside `swift` on PATH (the toolchain's), else on PATH.
    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        let fileManager = FileManager.default
        if let explicit = environment["LEAKTRACK_SYMBOLIZER"], !explicit.isEmpty {
            return fileManager.isExecutableFile(atPath: explicit) ? explicit : nil
        }
        let path = (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
        for directory in path where fileManager.isExecutableFile(atPath: directory + "/swift") {
            let resolved = URL(fileURLWithPath: directory + "/swift").resolvingSymlinksInPath()
                .deletingLastPathComponent()
            let candidate = resolved.appendingPathComponent("llvm-symbolizer").path
            if fileManager.isExecutableFile(atPath: candidate) { return candidate }
        }
        for directory in path where fileManager.isExecutableFile(atPath: directory + "/llvm-symbolizer") {
            return directory + "/llvm-symbolizer"
        }
        return nil
    }

    /// Large batches are split over one llvm-symbolizer per core (measured: 50,000 frames of libswiftCore
    /// take 1.1 s in one process).
    /// Throws `SymbolizerFailure` (with the answers it got) when a process could not be started or did not
    /// answer every request.
    public func symbolize(_ requests: [SymbolRequest]) throws -> [[Symbol]] {
        let workers = max(1, min(ProcessInfo.processInfo.activeProcessorCount, 8, requests.count / 5000))
        let chunk = (requests.count + workers - 1) / max(workers, 1)
        let results = Locked<[Batch?]>(Array(repeating: nil, count: workers))
        let group = DispatchGroup()
        for worker in 0..<workers {
            let slice = Array(requests[min(requests.count, worker * chunk)..<min(requests.count, (worker + 1) * chunk)])
            group.enter()
            let work = {
                let answer = symbolizeBatch(slice)
                results.update { $0[worker] = answer }
                group.leave()
            }
            if workers == 1 { work() } else { Thread(block: work).start() }
        }
        group.wait()
        let batches = results.value.compactMap { $0 }
        let symbols = batches.flatMap(\.symbols)
        let unanswered = batches.reduce(0) { $0 + $1.unanswered }
        if let reason = batches.lazy.compactMap(\.failure).first {
            throw SymbolizerFailure(symbols: symbols, unanswered: unanswered, reason: reason)
        }
        return symbols
    }

    private static let launching = NSLock()

    /// Everything until end of file, retrying reads a signal interrupted: Foundation's `readDataToEndOfFile`
    /// traps on EINTR, and the SIGCHLD of another symbolizer that exits (Foundation's Process handles it) is
    /// one, when many streams end at once.
    static func readToEnd(_ fd: Int32) -> Data {
        var data = Data()
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let got = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if got > 0 {
                data.append(contentsOf: chunk[0..<got])
            } else if got < 0 && errno == EINTR {
                continue
            } else {
                return data
            }
        }
    }

    /// One llvm-symbolizer's answers, one entry per request; `failure` says why `unanswered` are missing.
    private struct Batch {
        var symbols: [[Symbol]]
        var unanswered = 0
        var failure: String?
    }

    private func symbolizeBatch(_ requests: [SymbolRequest]) -> Batch {
        guard !requests.isEmpty else { return Batch(symbols: []) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments =
            ["--output-style=JSON", "--inlining", "--no-demangle"]
            + debugDirectories.map { "--debug-file-directory=" + $0 }
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do {
            // One launch at a time: Foundation's Process.run is not safe to call from many threads at once
            // (150 streams ending together crashed in its memcpy); the symbolizers still run side by side.
            try LLVMSymbolizer.launching.withLock { try process.run() }
        } catch {
            return Batch(
                symbols: Array(repeating: [], count: requests.count), unanswered: requests.count,
                failure: "cannot run \(executable): \(error.localizedDescription)")
        }
        var text = ""
        for request in requests {
            let quoted = request.modulePath.replacingOccurrences(of: "\"", with: "\\\"")
            text += "\"\(quoted)\" 0x\(String(request.address, radix: 16))\n"
        }
        let payload = Data(text.utf8)
        // Write from another thread while this one reads, so neither pipe can fill up and block both sides.
        // A symbolizer that dies early closes the pipe: the write then fails (EPIPE), and the answers it did
        // not give are counted as unanswered.
        let writer = Thread {
            // EPIPE, not SIGPIPE, for this thread alone (a library cannot count on the process ignoring it);
            // a SIGPIPE left pending on it dies with the thread.
            var pipeSignal = sigset_t()
            sigemptyset(&pipeSignal)
            sigaddset(&pipeSignal, SIGPIPE)
            pthread_sigmask(SIG_BLOCK, &pipeSignal, nil)
            let fd = input.fileHandleForWriting.fileDescriptor
            var sent = 0
            payload.withUnsafeBytes { bytes in
                while sent < bytes.count {
                    let wrote = write(fd, bytes.baseAddress! + sent, bytes.count - sent)
                    if wrote > 0 { sent += wrote } else if wrote < 0 && errno == EINTR { continue } else { break }
                }
            }
            try? input.fileHandleForWriting.close()
        }
        writer.start()
        let data = LLVMSymbolizer.readToEnd(output.fileHandleForReading.fileDescriptor)
        process.waitUntilExit()
        let lines = data.split(separator: UInt8(ascii: "\n"))
        var batch = Batch(symbols: [])
        batch.symbols.reserveCapacity(requests.count)
        for line in lines.prefix(requests.count) { batch.symbols.append(parse(line)) }
        batch.unanswered = requests.count - batch.symbols.count
        batch.symbols += repeatElement([], count: batch.unanswered)
        let status = process.terminationStatus
        let killed = process.terminationReason == .uncaughtSignal
        if batch.unanswered > 0 || killed || status != 0 {
            let how = killed ? "was killed by signal \(status)" : "exited with status \(status)"
            batch.failure =
                "\(executable) \(how) after answering \(requests.count - batch.unanswered) of \(requests.count) frames"
        }
        return batch
    }

    private func parse(_ line: Data.SubSequence) -> [Symbol] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
            let entries = object["Symbol"] as? [[String: Any]]
        else { return [] }
        var symbols: [Symbol] = []
        for (position, entry) in entries.enumerated() {
            let name = entry["FunctionName"] as? String ?? ""
            guard !name.isEmpty, name != "??" else { continue }
            let demangled = Demangler.demangle(name)
            let file = entry["FileName"] as? String ?? ""
            let line = entry["Line"] as? Int ?? 0
            let column = entry["Column"] as? Int ?? 0
            // What the trace reader accepts (TraceFile.Limits): names of at most 64 KiB, 32-bit lines.
            symbols.append(
                Symbol(
                    function: TraceFile.Limits.fitted(demangled),
                    file: file.isEmpty ? nil : TraceFile.Limits.fitted(file),
                    line: line <= 0 || line > TraceFile.Limits.line ? nil : line,
                    column: column <= 0 || column > TraceFile.Limits.line ? nil : column,
                    // Every entry but the last is a function inlined into the next one.
                    inlined: position < entries.count - 1,
                    linkageName: demangled == name ? nil : TraceFile.Limits.fitted(name)))
        }
        // An inline chain longer than a trace holds keeps its innermost functions and the containing one.
        if symbols.count > TraceFile.Limits.symbolsPerFrame {
            symbols = Array(symbols.prefix(TraceFile.Limits.symbolsPerFrame - 1)) + [symbols[symbols.count - 1]]
        }
        return symbols
    }
}
