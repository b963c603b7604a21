/*
 * The event ring: one process-wide, lock-free, multi-producer / single-consumer buffer of 64-bit words.
 *
 * Why one shared ring rather than per-thread buffers: the collector must apply a free made on thread B to an
 * allocation made on thread A in the true order, or the same address reused later shows up as a phantom leak
 * (or hides a real one). Per-thread buffers flushed at different times need a sequence number per event and a
 * reordering collector that can never be sure an idle thread has nothing older buffered. Here the atomic add
 * that claims space *is* the sequence number, and the single consumer (the writer thread) sends records in
 * claim order, so the stream is already ordered. The cost per event is that one atomic add, the same as the
 * sequence counter the other design needs anyway.
 *
 * Protocol:
 *   producer: pos = fetch_add(write, n); wait until pos + n - read <= capacity (back-pressure: a slow
 *             collector slows the program, it never loses events or grows memory); store the body words;
 *             store the header word last, with release order. The header carries the position as a tag.
 *   consumer: a record at position r is complete when the header word at r carries tag r (a word from the
 *             previous lap carries r - capacity). It sends complete records and then advances read.
 *
 * No allocation, no lock and no system call on this path: the only waits are when the ring is full.
 */
#include <sched.h>
#include <string.h>
#include <sys/mman.h>

#include "lt_internal.h"

struct lt_ring lt_ring;

/* After this long with no progress from the writer, the ring is considered stuck and tracking stops. */
#define LT_RING_STUCK_NS (30ull * 1000000000ull)

int lt_ring_init(uint64_t words) {
    void *memory = mmap(NULL, words * 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (memory == MAP_FAILED) return -1;
    lt_ring.words = memory;
    lt_ring.mask = words - 1;
    atomic_store(&lt_ring.write, 0);
    atomic_store(&lt_ring.read, 0);
    return 0;
}

void lt_ring_reset_after_fork(void) {
    /* Continue from the parent's positions, so stale headers (whose tags are all below `write`) can never
     * look published. Records other threads were writing at fork time do not exist in the child. */
    atomic_store(&lt_ring.read, atomic_load(&lt_ring.write));
}

static LT_NOINLINE uint64_t lt_ring_wait_for_space(uint64_t pos, uint32_t words) {
    uint64_t capacity = lt_ring.mask + 1;
    uint64_t last_read = atomic_load_explicit(&lt_ring.read, memory_order_acquire);
    uint64_t since = 0;
    for (uint32_t spins = 0;; spins++) {
        uint64_t read = atomic_load_explicit(&lt_ring.read, memory_order_acquire);
        if (pos + words - read <= capacity) return pos;
        if (read != last_read) {
            last_read = read;
            since = 0;
        }
        if (spins < 64) {
            __builtin_ia32_pause();
        } else if (spins < 128) {
            sched_yield();
        } else {
            if (since == 0) since = lt_monotonic_ns();
            if (lt_monotonic_ns() - since > LT_RING_STUCK_NS) {
                lt_disable("the collector stopped reading for 30 s; the program continues untracked");
                return UINT64_MAX;
            }
            lt_sleep_ns(50000);
        }
    }
}

uint64_t lt_ring_claim(uint32_t words) {
    uint64_t pos = atomic_fetch_add_explicit(&lt_ring.write, words, memory_order_relaxed);
    uint64_t read = atomic_load_explicit(&lt_ring.read, memory_order_acquire);
    if (LT_LIKELY(pos + words - read <= lt_ring.mask + 1)) return pos;
    return lt_ring_wait_for_space(pos, words);
}

void lt_ring_put_bytes(uint64_t pos, uint32_t index, const void *data, uint32_t bytes) {
    const unsigned char *source = data;
    while (bytes > 0) {
        uint64_t word = 0;
        uint32_t take = bytes < 8 ? bytes : 8;
        memcpy(&word, source, take);
        lt_ring_put(pos, index++, word);
        source += take;
        bytes -= take;
    }
}
