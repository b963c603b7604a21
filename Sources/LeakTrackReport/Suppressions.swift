/// Which leaks are not the program's to fix. Two kinds:
/// - the C runtime's own allocations: a stack with no frame outside the runtime's modules (libstdc++'s
///   exception emergency pool), a call site inside the dynamic loader (link maps, thread DTVs, dlopen
///   state: the loader's bookkeeping, reachable from its globals), and stdio buffers (reachable from the
///   FILE; valgrind calls all of these "still reachable");
/// - the Swift runtime's caches (type metadata, protocol conformances): allocations made by the runtime's
///   own C++ code in libswiftCore, kept for the life of the process;
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

    /// Modules that belong to the language runtimes (`RuntimeModules`, shared with call-site selection).
    public static let runtimeModules: [Pattern] = RuntimeModules.all

    public static let defaultRules: [Rule] =
        [
            Rule(pattern: Pattern("_IO_file_doallocate"), reason: "stdio buffer, reachable from the FILE"),
            // getpwuid, getaddrinfo and friends load /etc/nsswitch.conf once and keep it for the process's life.
            Rule(
                pattern: Pattern("__nss_module_allocate"),
                reason: "glibc's name-service modules, kept for the process's life"),
            Rule(
                pattern: Pattern("nss_database_check_reload_and_get"),
                reason: "glibc's name-service configuration, kept for the process's life"),
        ]
        + [
            // The non-reentrant lookups return a buffer the C library keeps in a static and reuses.
            "getpwuid", "getpwnam", "getgrgid", "getgrnam", "getspnam", "gethostbyname", "gethostbyname2",
            "gethostbyaddr",
            "getservbyname", "getservbyport", "getprotobyname", "getprotobynumber", "getnetbyname", "getnetbyaddr",
        ].map { Rule(pattern: Pattern($0), reason: "the C library's static result buffer") }

    public var useDefaults: Bool
    public var rules: [Rule]

    public init(useDefaults: Bool = true, rules: [Rule] = []) {
        self.useDefaults = useDefaults
        self.rules = (useDefaults ? Suppressions.defaultRules : []) + rules
    }

    public static let runtimeStartupReason = "C runtime start-up (no frame outside the runtime's modules)"
    public static let loaderReason = "dynamic loader bookkeeping (link maps, thread DTVs, dlopen state)"
    public static let swiftRuntimeReason = "Swift runtime caches (type metadata, protocol conformances)"
    static let swiftRuntimeModules: [Pattern] = RuntimeModules.patterns(.swiftCore)
    /// The runtime's C++ (`swift::` namespace, `swift_`/`_swift_` entry points), not the standard library's
    /// Swift code (`Swift.Array...`), which allocates on behalf of the program.
    static let swiftRuntimeFunctions: [Pattern] = ["swift::*", "swift_*", "_swift_*", "__swift_*"].map(Pattern.init)
    static let loaderModules: [Pattern] = RuntimeModules.patterns(.loader)

    /// The reason a leak with these frames is suppressed, or nil. `allocatingFrame` is the innermost frame
    /// that is not an allocator wrapper (see `CallSiteRules.allocatingFrame`).
    public func reason(for frames: [ReportFrame], allocatingFrame: ReportFrame? = nil) -> String? {
        if useDefaults, !frames.isEmpty,
            frames.allSatisfy({ frame in Suppressions.runtimeModules.contains { $0.matches(frame.module) } })
        {
            return Suppressions.runtimeStartupReason
        }
        if useDefaults, let allocatingFrame,
            Suppressions.loaderModules.contains(where: { $0.matches(allocatingFrame.module) })
        {
            return Suppressions.loaderReason
        }
        if useDefaults, let allocatingFrame,
            Suppressions.swiftRuntimeModules.contains(where: { $0.matches(allocatingFrame.module) }),
            Suppressions.swiftRuntimeFunctions.contains(where: {
                $0.matches(allocatingFrame.function) || $0.matches(QualifiedName.of(allocatingFrame.function))
            })
        {
            return Suppressions.swiftRuntimeReason
        }
        // Each frame borrowed, not copied: `for frame in frames` retained and released a frame's strings for every
        // rule, a third of a report's time on a trace of many deep stacks.
        for rule in rules {
            let pattern = rule.pattern
            let matched = frames.contains { frame in
                if pattern.matches(frame.function) || pattern.matches(frame.module) { return true }
                if let file = frame.file { return pattern.matches(file) }
                return false
            }
            if matched { return Suppressions.reasonText(for: rule) }
        }
        return nil
    }

    /// How a report names the reason for the leaks a rule suppressed.
    public static func reasonText(for rule: Rule) -> String {
        "leak:\(rule.pattern.text)" + (rule.reason.isEmpty ? "" : " (\(rule.reason))")
    }
}
