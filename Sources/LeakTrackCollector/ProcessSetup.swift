import CLeakTrackSystem

#if canImport(Glibc)
    import Glibc
#endif

/// What a leaktrack process sets up before anything else, whichever command it runs.
public enum ProcessSetup {
    public static func prepare() {
        // A traced process that has gone must not kill the collector with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        // Started with a standard stream closed (by a daemon, or `2>&-`), the first file we open would get its
        // number, and every message would be written into a trace or a socket.
        for stream in 0...2 where fcntl(Int32(stream), F_GETFD) < 0 {
            _ = open("/dev/null", stream == 0 ? O_RDONLY : O_WRONLY)
        }
        // A collector holds descriptors for every process it serves; a program's low limit is not ours.
        lt_raise_descriptor_limit()
    }
}
