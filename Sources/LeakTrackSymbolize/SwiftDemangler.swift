/// Demangles Swift symbol names with the Swift runtime's own demangler (llvm-symbolizer knows C++ but not
/// Swift). Names that are not Swift manglings come back unchanged.
public enum SwiftDemangler {
    public static func demangle(_ name: String) -> String {
        guard isSwiftMangled(name) else { return name }
        return name.utf8CString.withUnsafeBufferPointer { mangled -> String in
            guard let result = _swift_demangle(mangled.baseAddress, mangled.count - 1, nil, nil, 0) else { return name }
            defer { free(result) }
            return String(cString: result)
        }
    }

    static func isSwiftMangled(_ name: String) -> Bool {
        name.hasPrefix("$s") || name.hasPrefix("_$s") || name.hasPrefix("$S") || name.hasPrefix("_$S")
            || name.hasPrefix("$e") || name.hasPrefix("_T0")
    }
}

#if canImport(Glibc)
    import Glibc
#endif

@_silgen_name("swift_demangle")
private func _swift_demangle(
    _ mangledName: UnsafePointer<CChar>?, _ mangledNameLength: Int, _ outputBuffer: UnsafeMutablePointer<CChar>?,
    _ outputBufferSize: UnsafeMutablePointer<Int>?, _ flags: UInt32
) -> UnsafeMutablePointer<CChar>?
