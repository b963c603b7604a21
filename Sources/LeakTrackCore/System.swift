#if canImport(Glibc)
    import Glibc
#endif

/// Every system call leaktrack makes goes through here: EINTR is retried, any other failure (a negative
/// result) is thrown, as `LeakTrackError.system` naming the call unless `failure` says it better (the file
/// it was about).
public enum System {
    @discardableResult
    public static func call<T: BinaryInteger>(
        _ name: String, failure: ((Int32) -> Error)? = nil, _ body: () -> T
    ) throws -> T {
        while true {
            let result = body()
            if result >= 0 { return result }
            let code = errno
            if code == EINTR { continue }
            throw failure?(code) ?? LeakTrackError.system(call: name, errno: code)
        }
    }

    /// Writes all of `bytes`, retrying short writes.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let n = try call("write") { Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset) }
            offset += n
        }
    }

    public static func writeAll(_ fd: Int32, _ text: String) throws {
        var text = text
        try text.withUTF8 { try writeAll(fd, UnsafeRawBufferPointer($0)) }
    }
}

/// The environment variables leaktrack reads.
public enum ProcessEnvironment {
    /// TMPDIR if it is short enough for a socket path inside it, else /tmp.
    public static var temporaryDirectory: String {
        if let dir = getenv("TMPDIR").map({ String(cString: $0) }), !dir.isEmpty, dir.utf8.count < 60 { return dir }
        return "/tmp"
    }

    public static func get(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}
