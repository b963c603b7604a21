import CLeakTrackSystem
import Foundation
import LeakTrackCore

#if canImport(Glibc)
    import Glibc
#endif

/// The collector a shim starts for itself under a bare `LD_PRELOAD` (`leaktrack collect --listen-fd`): it
/// serves the listening socket the shim handed over and ends when the last traced process has gone.
public enum BareMode {
    /// Serves `listener` (whose path, if given, is removed with its directory at the end), writing traces into
    /// `directory`; returns once every process has gone, or after 10 s if none ever connected.
    public static func serve(
        listener: Int32, socketPath: String?, directory: String, plan: SnapshotPlan = SnapshotPlan(),
        log: @escaping (String) -> Void
    ) {
        // Detach from the traced program's session: its Ctrl-C must not kill us before its trace is written.
        setsid()
        // Stopped on purpose (SIGTERM, SIGINT, SIGHUP), the collector still stores what it received.
        lt_install_stop_handlers()
        defer {
            close(listener)
            if let socketPath {
                PrivateListener.remove(directory: Locations.directory(of: socketPath), path: socketPath)
            }
        }
        let options = Collector.Options(
            store: TraceStore(directory: directory), acknowledgeAfterWriting: true, plan: plan)
        let collector = Collector(listener: listener, options: options, log: log)
        let started = monotonicNanoseconds()
        collector.run { accepted, active in
            // Done when every process has gone; give up if none ever connects.
            (accepted > 0 && active == 0) || (accepted == 0 && monotonicNanoseconds() - started > 10_000_000_000)
        }
    }
}
