import LeakTrackCore

/// GitHub Actions workflow commands (`::error file=…,line=…::…`), one per offending call site, so the run's
/// summary and the pull request's diff show the leaking line.
public struct GitHubAnnotations: Renderer {
    public var sourceRoot: String

    public init(sourceRoot: String) {
        self.sourceRoot = sourceRoot.hasSuffix("/") ? String(sourceRoot.dropLast()) : sourceRoot
    }

    public func render<Output: TextOutputStream>(_ verdict: GateVerdict, to stream: inout Output) {
        stream.write(commands(verdict.result))
    }

    private func commands(_ result: GateResult) -> String {
        result.offenders.map { offender in
            let site = offender.site
            var properties: [String] = []
            if let file = site.file {
                let relative = file.hasPrefix(sourceRoot + "/") ? String(file.dropFirst(sourceRoot.count + 1)) : file
                properties.append("file=" + escapeProperty(relative))
                if let line = site.line { properties.append("line=\(line)") }
            }
            properties.append("title=" + escapeProperty("leak in \(site.function)"))
            let message =
                "\(site.bytes) bytes in \(site.count) allocations leaked at \(site.function) [\(site.module)]; budget: \(offender.budget)"
            return "::error " + properties.joined(separator: ",") + "::" + escapeData(message) + "\n"
        }.joined()
    }

    /// Control characters are escaped first (a name from a trace must not reach the runner's log raw), then
    /// the workflow command's own escapes.
    private func escapeData(_ text: String) -> String {
        text.escapingControlCharacters.replacingAll("%", with: "%25").replacingAll("\r", with: "%0D")
            .replacingAll("\n", with: "%0A")
    }

    private func escapeProperty(_ text: String) -> String {
        escapeData(text).replacingAll(":", with: "%3A").replacingAll(",", with: "%2C")
    }
}

extension String {
    /// Foundation-free replacement of every occurrence.
    func replacingAll(_ target: String, with replacement: String) -> String {
        split(separator: Character(target), omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
