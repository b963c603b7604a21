/// The memory samples of one stream, bounded: an 8-hour run at 10 ms would be 2.9 million samples. When the
/// series reaches `capacity`, its older half is thinned: of every four consecutive samples it keeps the two
/// with the lowest and the highest resident size (in time order), so old stretches get coarser but their
/// troughs and peaks stay. The newest half is always at full resolution.
public struct MemorySeries: Sendable {
    public private(set) var samples: [MemorySample] = []
    public let capacity: Int

    public init(capacity: Int = 4096) {
        self.capacity = Swift.max(capacity, 16)
    }

    public mutating func append(_ sample: MemorySample) {
        if samples.count >= capacity { thin() }
        samples.append(sample)
    }

    private mutating func thin() {
        let half = samples.count / 2 / 4 * 4
        var kept: [MemorySample] = []
        kept.reserveCapacity(capacity)
        var i = 0
        while i < half {
            let group = samples[i..<i + 4]
            let low = group.indices.min { samples[$0].residentBytes < samples[$1].residentBytes }!
            let high = group.indices.max { samples[$0].residentBytes < samples[$1].residentBytes }!
            if low == high {
                kept.append(samples[low])
            } else {
                kept.append(samples[Swift.min(low, high)])
                kept.append(samples[Swift.max(low, high)])
            }
            i += 4
        }
        kept.append(contentsOf: samples[half...])
        samples = kept
    }
}
