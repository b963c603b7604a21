import CLeakTrackSystem
import CLeakTrackWire
import LeakTrackCore

#if canImport(Glibc)
    import Glibc
#endif

/// The collector's end of a traced process's event ring: the shared memory the shim writes its records into
/// (the memfd that came with HELLO). The collector is the ring's only consumer: it copies published records
/// out into private memory (the traced process can still write to the ring, so nothing is decoded in place)
/// and then releases the space to the producers.
final class SharedRing {
    private let map: UnsafeMutableRawPointer
    private let mapSize: Int
    private let words: UnsafeMutableRawPointer
    private let capacity: UInt64
    private let copy: UnsafeMutableRawBufferPointer
    /// When the oldest claimed record was first seen unpublished (0: it was not).
    private var stuckSince: UInt64 = 0
    /// Claimed records unpublished this long are given up (their thread died or was stopped mid-record).
    static let skipAfterNanoseconds: UInt64 = 5_000_000_000
    static let batchWords: UInt64 = 128 * 1024

    /// Maps the ring; nil (with the reason) if the descriptor is not a ring of the announced size.
    init(fd: Int32, log2: UInt32) throws {
        guard log2 >= LT_RING_MIN_LOG2, log2 <= LT_RING_MAX_LOG2 else {
            throw CollectorError.ringRefused(
                reason: "the shim announced a ring of 2^\(log2) words, outside what leaktrack accepts")
        }
        capacity = 1 << UInt64(log2)
        mapSize = Int(LT_RING_HEADER_BYTES) + Int(capacity) * 8
        // Sealed first, then sized: once sealed it cannot shrink under our mapping, so the size checked here
        // holds for as long as we read it (an unsealed file could be truncated and kill us with SIGBUS).
        guard lt_ring_is_sealed(fd) != 0 else {
            throw CollectorError.ringRefused(
                reason: "the shim's ring is not a memfd sealed against shrinking; refusing it")
        }
        var status = stat()
        guard fstat(fd, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG, status.st_size >= mapSize else {
            throw CollectorError.ringRefused(reason: "the shim's ring is smaller than it announced")
        }
        guard let map = mmap(nil, mapSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), map != MAP_FAILED else {
            throw LeakTrackError.system(call: "mmap", errno: errno)
        }
        self.map = map
        device = UInt64(status.st_dev)
        inode = UInt64(status.st_ino)
        words = map + Int(LT_RING_HEADER_BYTES)
        copy = .allocate(byteCount: Int(SharedRing.batchWords) * 8, alignment: 8)
        lt_shared_store(map, Int(LT_RING_OFFSET_COLLECTOR_PID), UInt64(getpid()))
        lt_shared_store(map, Int(LT_RING_OFFSET_COLLECTOR_PIDNS), lt_pid_namespace())
    }

    /// The memfd's identity, to find it in the traced process's /proc/PID/maps.
    let device: UInt64
    let inode: UInt64

    /// Tells the shim how far we are (LT_ACK_HELLO, LT_ACK_DONE), and wakes it if it waits on that word.
    func announce(_ state: UInt32) {
        lt_shared_store(map, Int(LT_RING_OFFSET_COLLECTOR_STATE), UInt64(state))
        lt_futex_wake(map, Int(LT_RING_OFFSET_COLLECTOR_STATE))
    }

    /// A sign of life for the shim (which takes a collector that stays silent for 30 s for gone).
    func beat() {
        lt_shared_add(map, Int(LT_RING_OFFSET_COLLECTOR_BEAT), 1)
    }

    /// How often the shim has woken us (after FINAL, or while it waits for space).
    var wakeCount: UInt64 { lt_shared_load(map, Int(LT_RING_OFFSET_WAKE)) }

    /// Sleeps until the shim wakes us (wakeCount moves on from `seen`) or `milliseconds` pass.
    func waitForWake(seen: UInt64, milliseconds: Int32) {
        _ = lt_futex_wait(map, Int(LT_RING_OFFSET_WAKE), UInt32(truncatingIfNeeded: seen), milliseconds)
    }

    /// Whether `pid` still maps this ring: its stream goes on even when its socket has closed (a program can
    /// close the shim's descriptors). nil: its maps cannot be read.
    func isMapped(byProcess pid: UInt32) -> Bool? {
        switch lt_process_maps_file(Int32(bitPattern: pid), device, inode) {
        case 1: return true
        case 0: return false
        default: return nil
        }
    }

    deinit {
        munmap(map, mapSize)
        copy.deallocate()
    }

    /// Hands every record published so far to `consume`, in order, in batches; returns the words consumed.
    /// A claimed record that stays unpublished for 5 s is given up as a synthesized SKIP record.
    @discardableResult
    /// `processGone`: nobody can publish a claimed record any more, so one is given up at once.
    func drain(processGone: Bool = false, _ consume: (UnsafeRawBufferPointer) throws -> Void) throws -> UInt64 {
        var total: UInt64 = 0
        while true {
            let read = lt_shared_load(map, Int(LT_RING_OFFSET_READ))
            let write = lt_shared_load(map, Int(LT_RING_OFFSET_WRITE))
            guard write >= read, write - read <= capacity + (1 << 20) else {
                throw LeakTrackError.corrupted(
                    what: "the shared ring", detail: "its positions (read \(read), write \(write)) are impossible")
            }
            let end = lt_shared_published_end(words, capacity - 1, read, write, SharedRing.batchWords)
            guard end != UInt64.max else {
                throw LeakTrackError.corrupted(
                    what: "the shared ring", detail: "a record at position \(read) claims to be longer than the ring")
            }
            if end == read {
                if read < write {
                    let skipped = try giveUpIfStuck(read: read, write: write, now: processGone, consume)
                    if skipped {
                        continue
                    }
                }
                return total
            }
            stuckSince = 0
            // Copy out, then release: producers may reuse the space as soon as `read` moves.
            let start = Int(read & (capacity - 1)), count = Int(end - read)
            let first = min(count, Int(capacity) - start)
            copy.baseAddress!.copyMemory(from: words + start * 8, byteCount: first * 8)
            if first < count { (copy.baseAddress! + first * 8).copyMemory(from: words, byteCount: (count - first) * 8) }
            lt_shared_store(map, Int(LT_RING_OFFSET_READ), end)
            try consume(UnsafeRawBufferPointer(rebasing: copy[0..<count * 8]))
            total += UInt64(count)
        }
    }

    private func giveUpIfStuck(
        read: UInt64, write: UInt64, now giveUpNow: Bool,
        _ consume: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> Bool {
        let now = monotonicNanoseconds()
        if !giveUpNow {
            if stuckSince == 0 {
                stuckSince = now
                return false
            }
            guard now - stuckSince > SharedRing.skipAfterNanoseconds else { return false }
        }
        let next = lt_shared_next_published(words, capacity - 1, read, write)
        var skip = [UInt64](repeating: 0, count: Int(LT_SKIP_WORDS))
        skip[0] = lt_header_make(LT_REC_SKIP.rawValue, UInt32(LT_SKIP_WORDS), 0)
        skip[Int(LT_SKIP_WORD_FROM_TAG)] = read
        skip[Int(LT_SKIP_WORD_WORDS)] = next - read
        lt_shared_store(map, Int(LT_RING_OFFSET_READ), next)
        stuckSince = 0
        try skip.withUnsafeMutableBytes { try consume(UnsafeRawBufferPointer($0)) }
        return true
    }

    /// Tells the shim of a stream we refuse that we are done with it, so it does not wait for an answer:
    /// only its header page is mapped, and only if the memfd is sealed (else it could shrink under us).
    static func refuse(fd: Int32) {
        var status = stat()
        guard lt_ring_is_sealed(fd) != 0, fstat(fd, &status) == 0, status.st_size >= Int(LT_RING_HEADER_BYTES),
            let map = mmap(nil, Int(LT_RING_HEADER_BYTES), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), map != MAP_FAILED
        else { return }
        lt_shared_store(map, Int(LT_RING_OFFSET_COLLECTOR_STATE), UInt64(LT_ACK_DONE.rawValue))
        lt_futex_wake(map, Int(LT_RING_OFFSET_COLLECTOR_STATE))
        munmap(map, Int(LT_RING_HEADER_BYTES))
    }
}
