import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The recorded command, started with posix_spawn and waited for like a shell does.
enum ChildProcess {
    /// Starts `args` with `environment`, inheriting our standard streams (with `stdoutToStderr`, its standard
    /// output goes to our standard error, leaving ours to machine-readable output); SIGINT and SIGQUIT are
    /// reset to their defaults in the child (we ignore them ourselves).
    static func spawn(_ args: [String], environment: [String: String], stdoutToStderr: Bool = false) throws -> pid_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGINT)
        sigaddset(&defaults, SIGQUIT)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF))

        let argv = args.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if stdoutToStderr { posix_spawn_file_actions_adddup2(&actions, 2, 1) }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, args[0], &actions, &attributes, argv, envp)
        guard rc == 0 else {
            throw CollectorError.cannotRun(command: args[0], errno: rc)
        }
        return pid
    }

    /// Waits for the child; returns its exit status, or 128 + signal like a shell.
    static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return 2 }
        }
        let signal = status & 0x7f
        if signal == 0 { return (status >> 8) & 0xff }
        return 128 + signal
    }
}
