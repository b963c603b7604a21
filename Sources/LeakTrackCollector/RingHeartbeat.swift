import Foundation
import LeakTrackCore

#if canImport(Glibc)
    import Glibc
#endif

/// Beats every ring being served, every 100 ms, from one thread: the shim takes a collector that stays silent
/// for 30 s for gone, and a stream's last step (symbolizing, writing the trace) may take longer than that.
final class RingHeartbeat {
    private let rings = Locked<[ObjectIdentifier: SharedRing]>([:])
    private let started = Locked(false)

    func add(_ ring: SharedRing) {
        rings.update { $0[ObjectIdentifier(ring)] = ring }
        let first = started.update { started -> Bool in
            defer { started = true }
            return !started
        }
        guard first else { return }
        Thread { [rings] in
            while true {
                rings.update { $0.values.forEach { $0.beat() } }
                usleep(100_000)
            }
        }.start()
    }

    func remove(_ ring: SharedRing) {
        rings.update { _ = $0.removeValue(forKey: ObjectIdentifier(ring)) }
    }
}
