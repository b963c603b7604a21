import Foundation
import LeakTrackCore

/// What a traced process's collector answers on its control socket (see ControlChannel).
enum ControlAnswers {
    static func answer(_ request: String, for live: LiveSession) -> [String: Any] {
        switch request.trimmingCharacters(in: .whitespaces) {
        case "status":
            return status(of: live)
        case "snapshot":
            do {
                guard let written = try live.writeSnapshot(trigger: "request") else {
                    return ["error": "the process ended before its snapshot could be taken"]
                }
                return ["pid": Int(live.pid), "index": written.index, "path": written.path]
            } catch {
                return ["error": "cannot write the snapshot: \(error)"]
            }
        default:
            return ["error": "unknown request '\(request.prefix(40))' (this collector knows status and snapshot)"]
        }
    }

    static func status(of live: LiveSession) -> [String: Any] {
        let status = live.status
        var answer: [String: Any] = [
            "pid": Int(live.pid), "program": live.executable, "startTime": Double(live.startTime) / 1e9,
            "uptimeSeconds": Double(status.sample.time) / 1e9, "resident": status.sample.residentBytes,
            "private": status.sample.privateBytes, "heapBytes": status.sample.heapBytes,
            "heapCount": status.sample.heapCount,
            "allocations": status.allocations, "snapshots": status.snapshots, "trace": live.tracePath,
            "collectorPid": Int(getpid()), "started": live.started,
        ]
        if let latest = status.latestSnapshot { answer["latestSnapshot"] = latest }
        return answer
    }
}
