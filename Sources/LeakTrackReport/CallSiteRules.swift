/// Which frames are allocator or runtime wrappers: when choosing an allocation's call site, frames whose
/// function matches one of these are folded into their caller. The full stack stays in the report.
/// Users extend the list with `--fold PATTERN`.
public struct CallSiteRules: Sendable {
    public var foldPatterns: [Pattern]

    public init(foldPatterns: [Pattern] = CallSiteRules.defaultFoldPatterns) {
        self.foldPatterns = foldPatterns
    }

    public static let defaultFoldPatterns: [Pattern] = [
        // The allocation functions themselves, as seen from code that calls them through a wrapper of its own
        // (the dynamic loader has functions named malloc and calloc that forward to the real ones).
        "malloc", "calloc", "realloc", "reallocarray", "memalign", "aligned_alloc", "posix_memalign", "valloc",
        "pvalloc", "__libc_malloc", "__libc_calloc", "__libc_realloc", "__libc_memalign", "__minimal_malloc",
        "__minimal_calloc", "__minimal_realloc", "__rtld_malloc", "__rtld_calloc", "__rtld_realloc",
        // C++ allocation functions and the standard library's allocator plumbing.
        "operator new*", "operator delete*", "__gnu_cxx::new_allocator<*", "__gnu_cxx::__new_allocator<*",
        "std::__new_allocator<*", "std::allocator<*", "std::allocator_traits<*", "std::_Vector_base<*",
        // libc helpers that allocate on the caller's behalf.
        "strdup", "__strdup", "strndup", "__strndup", "asprintf", "__asprintf", "vasprintf", "__vasprintf*",
        "___asprintf", "__libc_asprintf", "wcsdup", "__wcsdup", "realpath", "__realpath", "getline", "getdelim", "__getdelim",
        // Swift runtime allocation entry points.
        "swift_slowAlloc", "swift_allocObject", "swift_allocBox", "swift::swift_slowAlloc*", "_swift_allocObject_*",
        "swift_allocEmptyBox",
    ].map(Pattern.init)

    public func isWrapper(_ function: String) -> Bool {
        foldPatterns.contains { $0.matches(function) }
    }
}
