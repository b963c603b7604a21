import LeakTrackCore

#if canImport(Glibc)
    import Glibc
#endif

/// All user-facing output goes through here, so messages share one prefix and stream.
enum Output {
    /// One line: control characters in the message (a path, or text quoted from a file) are escaped.
    static func error(_ message: String) {
        try? System.writeAll(STDERR_FILENO, "leaktrack: " + message.escapingControlCharacters + "\n")
    }

    /// Writes `text` to stderr as it is (GitHub workflow commands, which must not get our prefix).
    static func errorRaw(_ text: String) {
        try? System.writeAll(STDERR_FILENO, text)
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
