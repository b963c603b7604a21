#if canImport(Glibc)
    import Glibc
#endif

/// Demangles C++ (Itanium ABI, with libstdc++'s `__cxa_demangle`) and Swift (with the Swift runtime's
/// `swift_demangle`) names. Anything else comes back unchanged.
public enum Demangler {
    public static func demangle(_ name: String) -> String {
        if isSwiftMangled(name) { return swift(name) ?? name }
        if name.hasPrefix("_Z") { return cxx(name) ?? name }
        return name
    }

    static func isSwiftMangled(_ name: String) -> Bool {
        name.hasPrefix("$s") || name.hasPrefix("_$s") || name.hasPrefix("$S") || name.hasPrefix("_$S")
            || name.hasPrefix("$e") || name.hasPrefix("_$e") || name.hasPrefix("_T0")
    }

    static func swift(_ name: String) -> String? {
        name.utf8CString.withUnsafeBufferPointer { mangled in
            guard let result = _swift_demangle(mangled.baseAddress, mangled.count - 1, nil, nil, 0) else { return nil }
            defer { free(result) }
            return String(cString: result)
        }
    }

    static func cxx(_ name: String) -> String? {
        var status: Int32 = 0
        guard let result = _cxa_demangle(name, nil, nil, &status), status == 0 else { return nil }
        defer { free(result) }
        return String(cString: result)
    }
}

@_silgen_name("swift_demangle")
private func _swift_demangle(
    _ mangledName: UnsafePointer<CChar>?, _ mangledNameLength: Int, _ outputBuffer: UnsafeMutablePointer<CChar>?,
    _ outputBufferSize: UnsafeMutablePointer<Int>?, _ flags: UInt32
) -> UnsafeMutablePointer<CChar>?

@_silgen_name("__cxa_demangle")
private func _cxa_demangle(
    _ mangledName: UnsafePointer<CChar>, _ outputBuffer: UnsafeMutablePointer<CChar>?,
    _ length: UnsafeMutablePointer<Int>?, _ status: UnsafeMutablePointer<Int32>?
) -> UnsafeMutablePointer<CChar>?
