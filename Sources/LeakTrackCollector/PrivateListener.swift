import CLeakTrackSystem
import LeakTrackCore

#if canImport(Glibc)
    import Glibc
#endif

/// A listening Unix socket (mode 0600) in a private directory (mode 0700): where the shims of one recording
/// connect. Accepted connections carry their senders' credentials, so the collector knows each traced process
/// by a pid the kernel vouches for, not the one its HELLO claims.
public struct PrivateListener {
    public let fd: Int32
    public let directory: String
    public let path: String

    public init() throws {
        let base = ProcessEnvironment.temporaryDirectory
        var template = Array((base + "/leaktrack-XXXXXX").utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw LeakTrackError.file(path: base, operation: "create a private directory in", errno: errno)
        }
        let directory = String(cString: template)
        let path = directory + "/socket"
        let listening = try System.call("socket") {
            socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        _ = lt_pass_credentials(listening)
        do {
            var address = try PrivateListener.socketAddress(path)
            _ = try withUnsafePointer(to: &address) { pointer in
                try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                    try System.call("bind") { bind(listening, sa, socklen_t(MemoryLayout<sockaddr_un>.size)) }
                }
            }
            try System.call("chmod") { chmod(path, 0o600) }
            try System.call("listen") { listen(listening, SOMAXCONN) }
        } catch {
            _ = Glibc.close(listening)
            PrivateListener.remove(directory: directory, path: path)
            throw error
        }
        (fd, self.directory, self.path) = (listening, directory, path)
    }

    /// Closes the socket and removes it with its directory.
    public func close() {
        _ = Glibc.close(fd)
        PrivateListener.remove(directory: directory, path: path)
    }

    /// Removes a listener's socket and directory (a bare-mode collector gets only the path).
    public static func remove(directory: String, path: String) {
        unlink(path)
        rmdir(directory)
    }

    static func socketAddress(_ path: String) throws -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else { throw CollectorError.socketPathTooLong(path: path, limit: capacity - 1) }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return address
    }
}
