/// How an allocation's call site is chosen: the first frame of its stack that is the program's own code.
///
/// Frames are skipped when they are
/// - allocator entry points and wrappers (`allocatorPatterns`: malloc and friends, `operator new`, the
///   loader's and the Swift runtime's allocation functions, `strdup`-style helpers),
/// - language library code instantiated in the program (`foldPatterns`: `std::`, `__gnu_cxx::`, the Swift
///   standard library's generic specializations), plus whatever the user adds with `--fold`,
/// - or in a runtime module (`runtimeModules`: libc, libstdc++, libswiftCore, the dynamic loader, ...), so
///   that a leak through `fopen` or `std::vector::push_back` lands on the code that called them.
/// If every frame is skipped, the first frame that is not an allocator wrapper is the call site.
/// The full stack always stays in the report.
public struct CallSiteRules: Sendable {
    public var allocatorPatterns: [Pattern]
    public var foldPatterns: [Pattern]
    public var runtimeModules: [Pattern]

    public init(
        allocatorPatterns: [Pattern] = CallSiteRules.defaultAllocatorPatterns,
        foldPatterns: [Pattern] = CallSiteRules.defaultFoldPatterns,
        runtimeModules: [Pattern] = CallSiteRules.defaultRuntimeModules
    ) {
        self.allocatorPatterns = allocatorPatterns
        self.foldPatterns = foldPatterns
        self.runtimeModules = runtimeModules
    }

    public static let defaultAllocatorPatterns: [Pattern] = [
        // The allocation functions themselves (the dynamic loader has wrappers named malloc and calloc).
        "malloc", "calloc", "realloc", "reallocarray", "memalign", "aligned_alloc", "posix_memalign", "valloc",
        "pvalloc", "__libc_malloc", "__libc_calloc", "__libc_realloc", "__libc_memalign", "__minimal_malloc",
        "__minimal_calloc", "__minimal_realloc", "__rtld_malloc", "__rtld_calloc", "__rtld_realloc",
        // C++ allocation functions.
        "operator new*", "operator delete*",
        // libc helpers that allocate on the caller's behalf.
        "strdup", "__strdup", "strndup", "__strndup", "asprintf", "__asprintf", "vasprintf", "__vasprintf*",
        "___asprintf", "__libc_asprintf", "wcsdup", "__wcsdup",
        // Swift runtime allocation entry points.
        "swift_slowAlloc", "swift_allocObject", "swift_allocBox", "swift_allocEmptyBox", "swift::swift_slowAlloc*",
        "_swift_allocObject_*",
    ].map(Pattern.init)

    public static let defaultFoldPatterns: [Pattern] = [
        // C++ standard library templates instantiated in the program (matched on the qualified name, so a
        // leading return type does not matter).
        "std::*", "__gnu_cxx::*", "__cxxabiv1::*",
        // Swift standard library code specialized into the program.
        "Swift.*", "generic specialization <*> of Swift.*", "specialized Swift.*", "merged Swift.*",
        "outlined * of Swift.*", "(extension in Swift):*",
        // Compiler-generated allocating initializers: the call site is the code that wrote `Type(...)`.
        "*.__allocating_init",
    ].map(Pattern.init)

    /// The runtimes' and the loader's modules (`RuntimeModules`, one table shared with the suppressions).
    public static let defaultRuntimeModules: [Pattern] = RuntimeModules.all

    public func isAllocator(_ frame: ReportFrame) -> Bool {
        matches(allocatorPatterns, frame.function)
    }

    public func isFolded(_ frame: ReportFrame) -> Bool {
        isAllocator(frame) || matches(foldPatterns, frame.function)
            || runtimeModules.contains { $0.matches(frame.module) }
    }

    /// The innermost frame that is not an allocator entry point or wrapper: where memory was asked for.
    public func allocatingFrame(_ frames: [ReportFrame]) -> ReportFrame? {
        frames.first { !isAllocator($0) } ?? frames.first
    }

    /// The program's own frame that asked for the memory.
    public func callSite(_ frames: [ReportFrame]) -> ReportFrame? {
        frames.first { !isFolded($0) } ?? allocatingFrame(frames)
    }

    private func matches(_ patterns: [Pattern], _ function: String) -> Bool {
        let qualified = QualifiedName.of(function)
        return patterns.contains { $0.matches(function) || (qualified != function && $0.matches(qualified)) }
    }
}

/// The qualified name of a demangled C++ function, without its return type and parameters:
/// "void std::vector<int>::_M_realloc_insert<int const&>(...)" -> "std::vector<int>::_M_realloc_insert<int const&>".
enum QualifiedName {
    static func of(_ function: String) -> String {
        var depth = 0
        var end = function.endIndex
        var start = function.startIndex
        var index = function.startIndex
        while index < function.endIndex {
            let c = function[index]
            switch c {
            case "<": depth += 1
            case ">": depth = max(0, depth - 1)
            case "(" where depth == 0:
                end = index
                index = function.index(before: function.endIndex) // stop scanning
            case " " where depth == 0:
                // "operator new" and friends contain spaces of their own.
                if !function[start..<index].hasSuffix("operator") { start = function.index(after: index) }
            default: break
            }
            index = function.index(after: index)
        }
        return start < end ? String(function[start..<end]) : function
    }
}
