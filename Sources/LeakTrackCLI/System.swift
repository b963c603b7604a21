import CLeakTrackSystem
#if canImport(Glibc)
    import Glibc
#endif
import LeakTrackCore

/// Every system call the collector makes goes through here: EINTR is retried, any other failure becomes a
/// `LeakTrackError.system` naming the call.
enum System {
    @discardableResult
    static func call<T: BinaryInteger>(_ name: String, _ body: () -> T) throws -> T {
        while true {
            let result = body()
            if result >= 0 { return result }
            if errno == EINTR { continue }
            throw LeakTrackError.system(call: name, errno: errno)
        }
    }

    /// Writes all of `bytes`, retrying short writes.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let n = try call("write") { Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset) }
            offset += n
        }
    }

    static func writeAll(_ fd: Int32, _ text: String) throws {
        var text = text
        try text.withUTF8 { try writeAll(fd, UnsafeRawBufferPointer($0)) }
    }

    static func makeSocketAddress(_ path: String) throws -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else {
            throw LeakTrackError.usage("the socket path \(path) is longer than \(capacity - 1) bytes; set TMPDIR to a shorter directory")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return address
    }

    /// A private directory (mode 0700) holding a listening socket (mode 0600).
    static func makePrivateListener() throws -> (fd: Int32, directory: String, path: String) {
        let base = ProcessEnvironment.temporaryDirectory
        var template = Array((base + "/leaktrack-XXXXXX").utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw LeakTrackError.file(path: base, operation: "create a private directory in", errno: errno)
        }
        let directory = String(cString: template)
        let path = directory + "/socket"
        let fd = try call("socket") { socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        // Accepted connections carry their senders' credentials: the collector knows each traced process by a
        // pid the kernel vouches for, not the one its HELLO claims.
        _ = lt_pass_credentials(fd)
        var address = try makeSocketAddress(path)
        do {
            _ = try withUnsafePointer(to: &address) { pointer in
                try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                    try call("bind") { bind(fd, sa, socklen_t(MemoryLayout<sockaddr_un>.size)) }
                }
            }
            try call("chmod") { chmod(path, 0o600) }
            try call("listen") { listen(fd, SOMAXCONN) }
        } catch {
            close(fd)
            unlink(path)
            rmdir(directory)
            throw error
        }
        return (fd, directory, path)
    }

    static func removeListener(directory: String, path: String) {
        unlink(path)
        rmdir(directory)
    }
}

enum ProcessEnvironment {
    static var temporaryDirectory: String {
        if let dir = getenv("TMPDIR").map({ String(cString: $0) }), !dir.isEmpty, dir.utf8.count < 60 { return dir }
        return "/tmp"
    }

    static func get(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}
