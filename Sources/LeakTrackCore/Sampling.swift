#if canImport(Glibc)
    import Glibc
#endif

/// How a sampled trace was recorded (`LEAKTRACK_SAMPLE`, `record --sample`): the shim recorded one allocation
/// per `meanBytes` allocated on average, each block of s bytes with probability 1 - e^(-s / meanBytes), the
/// sample points falling on the bytes allocated as a Poisson process. Every figure of a sampled trace is an
/// estimate: each sampled block stands for 1 / that probability blocks like it (`weight`), which makes the
/// sums unbiased. Its live allocations are the sampled blocks themselves.
public struct Sampling: Equatable, Sendable {
    public var meanBytes: UInt64
    /// Sampled allocations recorded.
    public var samples: UInt64
    /// Sampled allocations left unrecorded because the shim's table of sampled blocks had no room (the estimates
    /// are low by about this share of samples + refused).
    public var refused: UInt64

    /// The largest mean a stream or a trace may say (the shim takes at most 64 MiB).
    public static let maxMeanBytes: UInt64 = 1 << 40

    public init(meanBytes: UInt64, samples: UInt64 = 0, refused: UInt64 = 0) {
        self.meanBytes = meanBytes
        self.samples = samples
        self.refused = refused
    }

    /// How many blocks of `size` bytes one sampled block stands for (1 for a block far larger than the mean).
    /// A block of 0 bytes is never sampled; should a damaged trace hold one, it stands for itself.
    @inline(__always)
    public func weight(ofSize size: UInt64) -> Double {
        guard size > 0, meanBytes > 0 else { return 1 }
        return 1 / -expm1(-Double(size) / Double(meanBytes))
    }

    /// The estimated (count, bytes) of a sampled block of `size` bytes.
    @inline(__always)
    public func estimate(ofSize size: UInt64) -> (count: Double, bytes: Double) {
        let w = weight(ofSize: size)
        return (w, w * Double(size))
    }
}

extension UInt64 {
    /// An estimate rounded to the nearest whole number (0 for what float sums leave below it).
    public init(estimate: Double) {
        self = estimate <= 0 ? 0 : estimate >= 1.8e19 ? UInt64.max : UInt64(estimate.rounded())
    }
}

/// A sampled session's estimates, beside its raw counters (which count the samples): updated on every sampled
/// allocation and release, with the weight of the block's size, so snapshots, memory samples and the trace's
/// totals carry estimates made the same way as the report's, block by block.
final class SampledCounters {
    let sampling: Sampling
    private(set) var allocations = 0.0, allocatedBytes = 0.0, frees = 0.0
    private(set) var liveCount = 0.0, liveBytes = 0.0, peakLiveBytes = 0.0
    private(set) var stackAllocations: [Double] = [], stackAllocatedBytes: [Double] = []
    private(set) var stackLiveCount: [Double] = [], stackLiveBytes: [Double] = []

    init(meanBytes: UInt64) { sampling = Sampling(meanBytes: meanBytes) }

    /// `stack`: the block's stack id, nil for one whose stack was dropped.
    func allocate(size: UInt64, stack: Int?) {
        let (count, bytes) = sampling.estimate(ofSize: size)
        allocations += count
        allocatedBytes += bytes
        liveCount += count
        liveBytes += bytes
        peakLiveBytes = max(peakLiveBytes, liveBytes)
        guard let stack else { return }
        if stack >= stackLiveCount.count {
            let more = repeatElement(0.0, count: stack + 1 - stackLiveCount.count)
            stackAllocations += more
            stackAllocatedBytes += more
            stackLiveCount += more
            stackLiveBytes += more
        }
        stackAllocations[stack] += count
        stackAllocatedBytes[stack] += bytes
        stackLiveCount[stack] += count
        stackLiveBytes[stack] += bytes
    }

    func release(size: UInt64, stack: Int?) {
        let (count, bytes) = sampling.estimate(ofSize: size)
        frees += count
        liveCount -= count
        liveBytes -= bytes
        guard let stack, stack < stackLiveCount.count else { return }
        stackLiveCount[stack] -= count
        stackLiveBytes[stack] -= bytes
    }
}
