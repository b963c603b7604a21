/// Which leaks are not the program's to fix. Two kinds:
/// - the C runtime's own start-up allocations: a stack with no frame outside the runtime's modules (the
///   dynamic loader's TLS, libstdc++'s exception emergency pool), and stdio buffers (reachable from
///   `stdout`; valgrind calls them "still reachable");
/// - LeakSanitizer-style `leak:PATTERN` rules that match a frame's function, module name or source file.
public struct Suppressions: Sendable {
    public struct Rule: Hashable, Sendable {
        public var pattern: Pattern
        public var reason: String

        public init(pattern: Pattern, reason: String) {
            self.pattern = pattern
            self.reason = reason
        }
    }

    /// Modules that belong to the C/C++ runtime.
    public static let runtimeModules: [Pattern] = [
        "ld-linux*.so*", "ld-*.so*", "libc.so*", "libc-*.so", "libstdc++.so*", "libgcc_s.so*", "libm.so*",
        "libpthread.so*", "libdl.so*", "librt.so*", "linux-vdso.so*",
    ].map(Pattern.init)

    public static let defaultRules: [Rule] = [
        Rule(pattern: Pattern("_IO_file_doallocate"), reason: "stdio buffer, reachable from the FILE"),
    ]

    public var useDefaults: Bool
    public var rules: [Rule]

    public init(useDefaults: Bool = true, rules: [Rule] = []) {
        self.useDefaults = useDefaults
        self.rules = (useDefaults ? Suppressions.defaultRules : []) + rules
    }

    public static let runtimeStartupReason = "C runtime start-up (no frame outside the runtime's modules)"

    /// The reason a leak with these frames is suppressed, or nil.
    public func reason(for frames: [ReportFrame]) -> String? {
        if useDefaults, !frames.isEmpty,
            frames.allSatisfy({ frame in Suppressions.runtimeModules.contains { $0.matches(frame.module) } })
        {
            return Suppressions.runtimeStartupReason
        }
        for rule in rules {
            for frame in frames {
                if rule.pattern.matches(frame.function) || rule.pattern.matches(frame.module)
                    || (frame.file.map(rule.pattern.matches) ?? false)
                {
                    return "leak:\(rule.pattern.text)" + (rule.reason.isEmpty ? "" : " (\(rule.reason))")
                }
            }
        }
        return nil
    }
}
