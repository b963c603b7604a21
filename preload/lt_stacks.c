/*
 * Stack capture and de-duplication.
 *
 * Capture: the fast unwinder (lt_unwind.c), or libunwind's unw_backtrace for the stacks it declines, into a
 * per-thread buffer (static TLS, so deep stacks cost no program stack); then the leading frames that lie
 * inside this library are dropped: the first frame kept is the return address in the code that called malloc.
 *
 * De-duplication: an open-addressing table in mmap'd memory, lock-free and allocation-free. A stack is
 * identified by two independent 64-bit hashes of its frames (the table stores one as the key and 32 bits of
 * the other beside the id: 96 bits, so a false match needs ~2^48 distinct stacks). The first thread to insert
 * a stack takes a dense id from a counter and emits the STACK record; later allocations send only the id.
 * A full table (or a long probe run) is counted as a dropped stack and the allocation goes out with
 * LT_DROPPED_STACK: counted in FINAL (stacks_dropped), never silent.
 */
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <sys/mman.h>

#include "leaktrack_wire.h"
#include "lt_base.h"
#include "lt_config.h"
#include "lt_modules.h"
#include "lt_records.h"
#include "lt_stacks.h"
#include "lt_state.h"
#include "lt_unwind.h"

#define LT_MAX_PROBE 128u

struct lt_stack_slot {
    _Atomic uint64_t key;   /* first hash, never 0; 0 = empty */
    _Atomic uint64_t value; /* (second hash >> 32) << 32 | id; 0 until published */
};

static struct lt_stack_slot *lt_slots;
static uint64_t lt_slot_mask;
static uint64_t lt_slot_limit; /* stop inserting at 3/4 full */
static _Atomic uint64_t lt_next_id = 1;
static uintptr_t lt_self_lo, lt_self_hi;

/* One buffer per nesting level: a signal handler's allocation may interrupt a capture in progress. */
static LT_TLS void *lt_frames[LT_MAX_NESTING][LT_MAX_DEPTH + 8];

#ifdef LT_TESTING
static uint64_t lt_testing_slots; /* 0: as configured */
#endif

int lt_stacks_init(uint64_t slots) {
#ifdef LT_TESTING
    if (lt_testing_slots != 0) slots = lt_testing_slots;
#endif
    void *memory = mmap(NULL, slots * sizeof(struct lt_stack_slot), PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (memory == MAP_FAILED) return -1;
    lt_slots = memory;
    lt_slot_mask = slots - 1;
    lt_slot_limit = slots / 4 * 3;
    atomic_store(&lt_next_id, 1);
    return 0;
}

int lt_stacks_reset_after_fork(void) {
    /* The child talks to the collector on a new connection, which knows no stack ids yet. */
    uint64_t slots = lt_slot_mask + 1;
    munmap(lt_slots, slots * sizeof(struct lt_stack_slot));
    return lt_stacks_init(slots);
}

#ifdef LT_TESTING
int lt_stacks_set_capacity_for_testing(uint64_t slots) {
    lt_testing_slots = slots;
    return lt_slots == NULL ? 0 : lt_stacks_reset_after_fork();
}
#endif

void lt_stacks_set_self_range(uintptr_t lo, uintptr_t hi) {
    lt_self_lo = lo;
    lt_self_hi = hi;
}

/* Hashing a stack: four independent multiply lanes (frames i, i+1, i+2, i+3), so the multiplies overlap
 * instead of forming one dependency chain per frame (measured: the single-chain version was ~20% of the
 * program's time at depth ~20); the lanes are folded with 128-bit multiplies at the end. The check value
 * comes from a separate add-rotate chain. */
static inline uint64_t lt_fold(uint64_t a, uint64_t b) {
    __uint128_t m = (__uint128_t)(a ^ 0x9e3779b97f4a7c15ull) * (b ^ 0xc2b2ae3d27d4eb4full);
    return (uint64_t)m ^ (uint64_t)(m >> 64);
}

static void lt_hash_frames(void *const *frames, uint32_t depth, uint64_t *key, uint64_t *check) {
    const uint64_t k = 0xff51afd7ed558ccdull;
    const uint64_t *f = (const uint64_t *)frames;
    uint64_t a = 0x243f6a8885a308d3ull, b = 0x13198a2e03707344ull, c = 0xa4093822299f31d0ull, d = 0x082efa98ec4e6c89ull;
    uint64_t sum = depth;
    uint32_t i = 0;
    for (; i + 4 <= depth; i += 4) {
        a = (a ^ f[i]) * k;
        b = (b ^ f[i + 1]) * k;
        c = (c ^ f[i + 2]) * k;
        d = (d ^ f[i + 3]) * k;
        sum += f[i] ^ (f[i + 1] << 1) ^ (f[i + 2] << 2) ^ (f[i + 3] << 3);
        sum = (sum << 23) | (sum >> 41);
    }
    for (; i < depth; i++) {
        a = (a ^ f[i]) * k;
        sum = ((sum << 23) | (sum >> 41)) + f[i];
    }
    uint64_t h = lt_fold(lt_fold(a, b), lt_fold(c, d)) ^ depth;
    *key = lt_fold(h, sum) | 1; /* never 0: 0 marks an empty slot */
    *check = lt_fold(sum, depth * 0x9e3779b97f4a7c15ull + 1) & 0xffffffff00000000ull;
}

static uint32_t lt_stack_lookup(void *const *frames, uint32_t depth, int truncated) {
    uint64_t h1, check;
    lt_hash_frames(frames, depth, &h1, &check);
    /* The same frames cut at the limit and ending there naturally are two stacks. */
    if (truncated) h1 = lt_fold(h1, 0x5bd1e995u) | 1;
    for (uint64_t probe = 0, i = h1 & lt_slot_mask; probe < LT_MAX_PROBE; probe++, i = (i + 1) & lt_slot_mask) {
        struct lt_stack_slot *slot = &lt_slots[i];
        uint64_t key = atomic_load_explicit(&slot->key, memory_order_acquire);
        if (key == 0) {
            if (atomic_load_explicit(&lt_next_id, memory_order_relaxed) > lt_slot_limit) break;
            uint64_t expected = 0;
            if (!atomic_compare_exchange_strong_explicit(&slot->key, &expected, h1, memory_order_acq_rel,
                                                         memory_order_acquire)) {
                key = expected; /* somebody else took this slot: examine what they put there */
            } else {
                uint32_t id = (uint32_t)atomic_fetch_add_explicit(&lt_next_id, 1, memory_order_relaxed);
                /* Publish the id at once so other threads never wait on the slow part below. Their ALLOC
                 * records may then reach the stream before this STACK record: the collector accepts a stack
                 * id before its definition. */
                atomic_store_explicit(&slot->value, check | id, memory_order_release);
                /* The module map must be on the wire before any frame that points into a new module. */
                lt_modules_refresh();
                lt_record_stack(id, frames, depth, truncated);
                return id;
            }
        }
        if (key != h1) continue;
        uint64_t value;
        for (uint32_t spins = 0; (value = atomic_load_explicit(&slot->value, memory_order_acquire)) == 0; spins++) {
            /* Only the two stores of an insert separate key and value; a long wait means the inserting thread
             * was interrupted by a signal handler that is now allocating on top of it. */
            if (spins > 1000000) return LT_DROPPED_STACK;
            __builtin_ia32_pause();
        }
        if ((value & 0xffffffff00000000ull) == check) return (uint32_t)value;
    }
    atomic_fetch_add_explicit(&lt_counters.stacks_dropped, 1, memory_order_relaxed);
    return LT_DROPPED_STACK;
}

uint32_t lt_stack_capture_id(const void *hook_frame, unsigned level) {
    void **frames = lt_frames[level];
    int max = (int)(lt_config.depth + 8);
    int got = lt_config.libunwind_only ? -1 : lt_unwind_backtrace(hook_frame, frames, max);
    if (got < 0) {
        /* libunwind allocates on its first use in a thread and is not re-entrant. */
        lt_self.critical++;
        got = unw_backtrace(frames, max);
        lt_self.critical--;
    }
    if (got <= 0) return LT_DROPPED_STACK;
    uint32_t first = 0;
    while (first < (uint32_t)got && (uintptr_t)frames[first] >= lt_self_lo && (uintptr_t)frames[first] < lt_self_hi)
        first++;
    uint32_t depth = (uint32_t)got - first;
    /* The unwinder stops at depth + 8 frames, so more than `depth` left means the stack went on. */
    int truncated = depth > lt_config.depth;
    if (truncated) depth = lt_config.depth;
    if (depth == 0) return LT_DROPPED_STACK;
    return lt_stack_lookup(frames + first, depth, truncated);
}
