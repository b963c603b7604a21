/// Which leaks are not the program's to fix. Two kinds:
/// - the C runtime's own allocations: a stack with no frame outside the runtime's modules (libstdc++'s
///   exception emergency pool), a call site inside the dynamic loader (link maps, thread DTVs, dlopen
///   state: the loader's bookkeeping, reachable from its globals), and stdio buffers (reachable from the
///   FILE; valgrind calls all of these "still reachable");
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
    public static let loaderReason = "dynamic loader bookkeeping (link maps, thread DTVs, dlopen state)"
    static let loaderModules: [Pattern] = ["ld-linux*.so*", "ld-*.so*"].map(Pattern.init)

    /// The reason a leak with these frames (and this call site, if known) is suppressed, or nil.
    public func reason(for frames: [ReportFrame], callSite: ReportFrame? = nil) -> String? {
        if useDefaults, !frames.isEmpty,
            frames.allSatisfy({ frame in Suppressions.runtimeModules.contains { $0.matches(frame.module) } })
        {
            return Suppressions.runtimeStartupReason
        }
        if useDefaults, let callSite, Suppressions.loaderModules.contains(where: { $0.matches(callSite.module) }) {
            return Suppressions.loaderReason
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
