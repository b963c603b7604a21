import LeakTrackCore

/// How a call site's live memory moved across the snapshots of a run.
public enum GrowthVerdict: String, Sendable, CaseIterable {
    /// A steady climb that is still climbing: a leak.
    case growing
    /// It grew, then stopped: a cache or a pool that reached its size.
    case bounded
    /// No growth worth the name.
    case stable
}

/// One call site across the snapshots: what it held at each, and what that says.
public struct SiteGrowth: Equatable, Sendable {
    /// Bytes and blocks at each snapshot, oldest first (the trace itself last).
    public var bytes: [UInt64]
    public var counts: [UInt64]
    /// The least-squares slope of its bytes over time, per hour.
    public var bytesPerHour: Double
    /// The same slope over allocations made (bytes per million allocations): growth per unit of work.
    public var bytesPerMillionAllocations: Double
    /// How well a straight line fits the bytes (R², 0 to 1): 1 is a perfectly steady climb.
    public var steadiness: Double
    public var verdict: GrowthVerdict
}

/// The growth verdict for a series of amounts at the given times, from these rules:
/// - growing: at least 3 more blocks and 10% more bytes at the end than at the first snapshot, a positive
///   slope that a straight line fits well (R² ≥ 0.6), at least 70% of the steps not going down, and the second
///   half of the run climbing at least half as fast as the whole (it has not levelled off);
/// - bounded: it rose (3 blocks or 10% of its peak) and the second half moved by at most 10% of that rise;
/// - stable: everything else (churn around a level, a site that came and went).
enum GrowthAnalysis {
    static func analyze(times: [UInt64], allocations: [UInt64], bytes: [UInt64], counts: [UInt64]) -> SiteGrowth {
        let t = times.map { Double($0) / 1e9 }
        let b = bytes.map { Double($0) }
        let n = b.count
        let (slope, fit) = leastSquares(t, b)
        let (perAllocation, _) = leastSquares(allocations.map { Double($0) }, b)
        var verdict = GrowthVerdict.stable
        if n >= 3 {
            let mid = n / 2
            let first = b[0], last = b[n - 1], peak = b.max() ?? 0, low = b.min() ?? 0
            let countGrowth = Int64(clamping: counts[n - 1]) - Int64(clamping: counts[0])
            let steps = (1..<n).filter { b[$0] >= b[$0 - 1] }.count
            let span = t[n - 1] - t[0], lateSpan = t[n - 1] - t[mid]
            let lateSlope = lateSpan > 0 ? (last - b[mid]) / lateSpan : 0
            let overall = span > 0 ? (last - first) / span : 0
            if countGrowth >= 3, last >= 1.1 * first, slope > 0, fit >= 0.6,
                Double(steps) >= 0.7 * Double(n - 1), lateSlope >= 0.5 * overall, overall > 0
            {
                verdict = .growing
            } else {
                let rise = peak - low
                let rose =
                    rise > 0
                    && (Int64(clamping: counts.max() ?? 0) - Int64(clamping: counts.min() ?? 0) >= 3
                        || rise >= 0.1 * peak)
                let lateMove = (b[mid...].max() ?? 0) - (b[mid...].min() ?? 0)
                if rose, peak - first >= 0.1 * peak, lateMove <= 0.1 * rise { verdict = .bounded }
            }
        }
        return SiteGrowth(
            bytes: bytes, counts: counts, bytesPerHour: slope * 3600, bytesPerMillionAllocations: perAllocation * 1e6,
            steadiness: fit, verdict: verdict)
    }

    /// Slope and R² of the least-squares line through the points (0 and 0 when x does not vary).
    static func leastSquares(_ x: [Double], _ y: [Double]) -> (slope: Double, r2: Double) {
        let n = Double(x.count)
        guard x.count >= 2 else { return (0, 0) }
        let mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for (a, b) in zip(x, y) {
            sxy += (a - mx) * (b - my)
            sxx += (a - mx) * (a - mx)
            syy += (b - my) * (b - my)
        }
        guard sxx > 0 else { return (0, 0) }
        let slope = sxy / sxx
        let r2 = syy > 0 ? (sxy * sxy) / (sxx * syy) : 0
        return (slope, r2)
    }
}

/// Allocation ages of a group's live blocks, at the end of the trace.
public struct AgeSummary: Equatable, Sendable {
    /// Seconds since the oldest block was allocated.
    public var oldestSeconds: Double
    /// Bytes in blocks older than the report's `ageCutoffSeconds`.
    public var olderBytes: UInt64
}
