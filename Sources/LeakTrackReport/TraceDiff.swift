/// What changed between two traces (or snapshots) of one program, per call site (UMDH's `umdh a b`): the
/// bytes and count each holds in both, and the difference, call sites that grew the most first.
public struct TraceDiff: Sendable {
    public struct Site: Sendable {
        public var id: CallSiteID
        /// The call site as the newer report names it (or the older, for a site that is gone).
        public var site: LeakGroup
        public var oldBytes: UInt64
        public var oldCount: UInt64
        public var newBytes: UInt64
        public var newCount: UInt64

        /// Saturating at Int64's range: a difference of two UInt64 sums could exceed it.
        public var deltaBytes: Int64 { TraceDiff.delta(newBytes, oldBytes) }
        public var deltaCount: Int64 { TraceDiff.delta(newCount, oldCount) }
    }

    public var old: LeakReport
    public var new: LeakReport
    /// Every call site that holds memory in either report, by growth: bytes, then count, then name.
    public var sites: [Site]

    public init(old: LeakReport, new: LeakReport) {
        self.old = old
        self.new = new
        var sites: [CallSiteID: Site] = [:]
        for group in old.groups {
            sites[
                CallSiteID(group),
                default: Site(id: CallSiteID(group), site: group, oldBytes: 0, oldCount: 0, newBytes: 0, newCount: 0)
            ]
            .add(old: group)
        }
        for group in new.groups {
            let id = CallSiteID(group)
            sites[id, default: Site(id: id, site: group, oldBytes: 0, oldCount: 0, newBytes: 0, newCount: 0)].add(
                new: group)
        }
        self.sites = sites.values.sorted { a, b in
            if a.deltaBytes != b.deltaBytes { return a.deltaBytes > b.deltaBytes }
            if a.deltaCount != b.deltaCount { return a.deltaCount > b.deltaCount }
            return a.id < b.id
        }
    }

    /// New minus old, saturating.
    static func delta(_ new: UInt64, _ old: UInt64) -> Int64 {
        new >= old ? Int64(clamping: new - old) : -Int64(clamping: old - new)
    }
}

extension TraceDiff.Site {
    fileprivate mutating func add(old group: LeakGroup) {
        oldBytes = oldBytes.saturatingAdd(group.bytes)
        oldCount = oldCount.saturatingAdd(group.count)
    }

    fileprivate mutating func add(new group: LeakGroup) {
        site = group
        newBytes = newBytes.saturatingAdd(group.bytes)
        newCount = newCount.saturatingAdd(group.count)
    }
}
