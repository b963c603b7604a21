/* Claiming and publishing space in the shared ring (lt_ring.c); the mapping itself is lt_shm.h's. */
#ifndef LT_RING_H
#define LT_RING_H

#include "leaktrack_wire.h"
#include "lt_base.h"
#include "lt_shm.h"
#include "lt_state.h"

/* Throws away everything claimed so far: once nobody reads the ring, no producer may stay blocked on it. */
void lt_ring_discard(void);
/* Claims `words` words only if their space frees up once the collector has read up to `oldest`, then waits
 * for that; UINT64_MAX if it would need more. */
uint64_t lt_ring_claim_below(uint32_t words, uint64_t oldest);
/* Claims `words` consecutive words, waiting while the ring is full. Returns the position, or UINT64_MAX if
 * the collector is gone (the caller drops the record). Use lt_ring_claim, below. */
uint64_t lt_ring_claim_waiting(uint32_t words, uint64_t *claimed_at);
static inline void lt_ring_put(uint64_t pos, uint32_t index, uint64_t word) {
    atomic_store_explicit(&lt_ring.words[(pos + index) & lt_ring.mask], word, memory_order_relaxed);
}

/* Copies `bytes` bytes into the record at pos, starting at word `index`, zero-padding the last word. */
void lt_ring_put_bytes(uint64_t pos, uint32_t index, const void *data, uint32_t bytes);

/* Claims `words` consecutive words (see lt_ring_claim_waiting), and publishes them (lt_ring_publish). A signal
 * handler that claims while its thread holds a claim not yet published (it interrupted a hook between the
 * two) must not wait for space that only the collector reading past that very record would free: the
 * collector cannot pass it, and would give it up after 5 s, and the interrupted hook would then write into
 * space that is no longer its own. So such a claim is made only if its space frees up before the thread's
 * oldest unpublished record (it then waits as usual); else the record is dropped and its words are counted
 * as lost. Where that record's position is not stored yet (the handler came in the instant of the claim),
 * the position of the thread's claim before it stands in: older, so the bound is only stricter. */
static inline uint64_t lt_ring_claim(uint32_t words) {
    struct lt_thread_state *self = &lt_self;
    uint64_t pos;
    if (LT_UNLIKELY(self->claiming)) {
        pos = lt_ring_claim_below(words, self->claimed_at);
        if (pos == UINT64_MAX) {
            atomic_fetch_add_explicit(&lt_counters.skipped_words, words, memory_order_relaxed);
            return pos;
        }
        self->claiming++;
        return pos;
    }
    /* Counted before the claim itself: a handler that interrupts the wait for space must not wait too. */
    self->claiming = 1;
    atomic_signal_fence(memory_order_seq_cst);
    pos = lt_ring_claim_waiting(words, &self->claimed_at);
    if (LT_UNLIKELY(pos == UINT64_MAX)) self->claiming = 0;
    return pos;
}

/* Stores the header last, with release order: the collector reads a record only once its header is there. */
static inline void lt_ring_publish(uint64_t pos, uint32_t type, uint32_t words) {
    atomic_store_explicit(&lt_ring.words[pos & lt_ring.mask], lt_header_make(type, words, pos), memory_order_release);
    atomic_signal_fence(memory_order_seq_cst);
    lt_self.claiming--;
}

#endif /* LT_RING_H */
