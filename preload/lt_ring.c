/*
 * The event ring: one process-wide, lock-free, multi-producer / single-consumer buffer of 64-bit words.
 *
 * Why one shared ring rather than per-thread buffers: the collector must apply a free made on thread B to an
 * allocation made on thread A in the true order, or the same address reused later shows up as a phantom leak
 * (or hides a real one). Per-thread buffers flushed at different times need a sequence number per event and a
 * reordering collector that can never be sure an idle thread has nothing older buffered. Here the atomic add
 * that claims space *is* the sequence number, and the single consumer (the collector) reads records in
 * claim order, so the stream is already ordered. The cost per event is that one atomic add, the same as the
 * sequence counter the other design needs anyway.
 *
 * The ring is in shared memory (a memfd the collector maps, lt_shm.c), so the collector reads the records where
 * the program wrote them: no system call and no kernel copy per batch. The collector, not a thread in the
 * program, is the single consumer.
 *
 * Protocol:
 *   producer: pos = fetch_add(write, n); wait until pos + n - read <= capacity (back-pressure: a slow
 *             collector slows the program, it never loses events or grows memory); store the body words;
 *             store the header word last, with release order. The header carries the position as a tag.
 *   consumer: a record at position r is complete when the header word at r carries tag r (a word from the
 *             previous lap carries r - capacity). It copies complete records out and then advances read.
 *
 * No allocation, no lock and no system call on this path: the only waits are when the ring is full.
 */
#include <sched.h>
#include <string.h>

#include "lt_base.h"
#include "lt_collector.h"
#include "lt_diag.h"
#include "lt_ring.h"
#include "lt_shm.h"
#include "lt_state.h"

/* After this long with no progress from the collector, the ring is considered stuck and tracking stops. */
#define LT_RING_STUCK_NS (30ull * 1000000000ull)

/* The ring is full: wake the collector, then wait for it (spin, yield, then 50 µs sleeps), and give up
 * when it is gone (its process ended, or it went silent) or made no progress for 30 s. */
static LT_NOINLINE uint64_t lt_ring_wait_for_space(uint64_t pos, uint32_t words) {
    uint64_t capacity = lt_ring.mask + 1;
    uint64_t last_read = atomic_load_explicit(lt_ring.read, memory_order_acquire);
    uint64_t since = 0;
    for (uint32_t spins = 0;; spins++) {
        uint64_t read = atomic_load_explicit(lt_ring.read, memory_order_acquire);
        if (pos + words - read <= capacity) return pos;
        if (read != last_read) {
            last_read = read;
            since = 0;
        }
        if (spins < 64) {
            __builtin_ia32_pause();
        } else if (spins < 128) {
            if (spins == 64) lt_collector_wake();
            sched_yield();
        } else {
            uint64_t now = lt_monotonic_ns();
            if (since == 0) since = now;
            int gone = (spins & 127) == 0 && lt_collector_gone();
            if (gone || now - since > LT_RING_STUCK_NS) {
                lt_collector_lost();
                lt_disable(gone ? "lost the connection to the collector; the program continues untracked"
                                : "the collector stopped reading for 30 s; the program continues untracked");
                lt_ring_discard();
                return UINT64_MAX;
            }
            lt_sleep_ns(50000);
        }
    }
}

void lt_ring_discard(void) {
    atomic_store_explicit(lt_ring.read, atomic_load_explicit(lt_ring.write, memory_order_acquire),
                          memory_order_release);
}

uint64_t lt_ring_claim_waiting(uint32_t words, uint64_t *claimed_at) {
    uint64_t pos = atomic_fetch_add_explicit(lt_ring.write, words, memory_order_relaxed);
    *claimed_at = pos;
    uint64_t read = atomic_load_explicit(lt_ring.read, memory_order_acquire);
    if (LT_LIKELY(pos + words - read <= lt_ring.mask + 1)) return pos;
    return lt_ring_wait_for_space(pos, words);
}

uint64_t lt_ring_claim_below(uint32_t words, uint64_t oldest) {
    uint64_t capacity = lt_ring.mask + 1;
    uint64_t pos = atomic_load_explicit(lt_ring.write, memory_order_relaxed);
    do {
        /* Its space frees up only once the collector has read up to pos + words - capacity. */
        if (pos + words > oldest + capacity) return UINT64_MAX;
    } while (!atomic_compare_exchange_weak_explicit(lt_ring.write, &pos, pos + words, memory_order_relaxed,
                                                    memory_order_relaxed));
    uint64_t read = atomic_load_explicit(lt_ring.read, memory_order_acquire);
    if (LT_LIKELY(pos + words - read <= capacity)) return pos;
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
