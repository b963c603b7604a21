/// The one table of the modules that belong to the language runtimes and the loader, by what they are. Call
/// site selection skips every one of them (a leak through `fopen` lands on its caller); the default
/// suppressions use the kinds (the loader's own bookkeeping, the Swift runtime's caches).
public enum RuntimeModules {
    public enum Kind: Sendable {
        /// The dynamic loader: its allocations are its bookkeeping (link maps, thread DTVs, dlopen state).
        case loader
        /// The C and C++ runtimes, the vDSO.
        case systemRuntime
        /// libswiftCore: the Swift runtime (and standard library).
        case swiftCore
        /// The rest of the Swift toolchain's runtime libraries.
        case swiftRuntime
    }

    /// Module file name patterns and what they are. Swift's libraries are matched with a trailing `*` like
    /// the others, so a versioned or suffixed name (libswiftCore.so.6) is still the runtime.
    public static let table: [(pattern: Pattern, kind: Kind)] =
        ([
            ("ld-linux*.so*", .loader), ("ld-*.so*", .loader),
            ("libc.so*", .systemRuntime), ("libc-*.so", .systemRuntime), ("libstdc++.so*", .systemRuntime),
            ("libc++.so*", .systemRuntime), ("libc++abi.so*", .systemRuntime), ("libgcc_s.so*", .systemRuntime),
            ("libm.so*", .systemRuntime), ("libpthread.so*", .systemRuntime), ("libdl.so*", .systemRuntime),
            ("librt.so*", .systemRuntime), ("linux-vdso.so*", .systemRuntime),
            ("libswiftCore.so*", .swiftCore),
            ("libswift_Concurrency.so*", .swiftRuntime), ("libswift_StringProcessing.so*", .swiftRuntime),
            ("libdispatch.so*", .swiftRuntime), ("libFoundation*.so*", .swiftRuntime),
            ("libswiftDispatch.so*", .swiftRuntime),
        ] as [(String, Kind)]).map { (Pattern($0.0), $0.1) }

    /// Every runtime module's pattern.
    public static let all: [Pattern] = table.map(\.pattern)

    /// The patterns of one kind.
    public static func patterns(_ kind: Kind) -> [Pattern] { table.filter { $0.kind == kind }.map(\.pattern) }
}
