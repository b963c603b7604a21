/*
 * The sampler's slow parts: seeding a thread's generator, drawing the gap to its next sample point, and the
 * table of sampled addresses. They run once per sample (one allocation in N bytes) and once per free whose
 * bucket holds a sampled block, so log() and a few compare-and-swaps do not matter; what matters is that
 * nothing here allocates or takes a lock.
 *
 * The gap is exponential with the configured mean: -mean * ln(u), u uniform in (0, 1], from a xorshift64*
 * generator per thread. With LEAKTRACK_SAMPLE_SEED every thread's generator starts from that seed and the
 * order in which threads first allocate (the same on every run of a single-threaded program), so a test
 * knows what is sampled; otherwise from the clock, the thread's TLS address and the process id.
 *
 * The table. remember() counts the bucket up, then puts the address into a free way; forget() takes the
 * address out, then counts the bucket down. A block is remembered before the program has its address and
 * forgotten by a free of it, which the program can only make afterwards; so whoever frees a sampled block
 * finds its bucket's count at 1 or more, and a count of 0 proves the block was not sampled. A fork child
 * inherits the table with its parent's sampled blocks: their frees are recorded, and its collector, which
 * never saw them, passes over them.
 */
#include <math.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "lt_base.h"
#include "lt_config.h"
#include "lt_diag.h"
#include "lt_sampler.h"
#include "lt_state.h"

uint64_t lt_sampler_mean;
_Atomic uint8_t lt_sampled_counts[1u << LT_SAMPLED_BUCKETS_LOG2];
static _Atomic uint64_t (*lt_sampled_table)[LT_SAMPLED_WAYS];
static _Atomic uint64_t lt_sampler_threads;

static uint64_t lt_splitmix64(uint64_t x) {
    x += UINT64_C(0x9E3779B97F4A7C15);
    x = (x ^ (x >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94D049BB133111EB);
    return x ^ (x >> 31);
}

static uint64_t lt_next_random(uint64_t *state) {
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * UINT64_C(0x2545F4914F6CDD1D);
}

static uint64_t lt_draw_gap(uint64_t *state, uint64_t mean) {
    /* u in (0, 1]: 53 random bits, plus one so that ln(u) is finite. */
    double u = (double)((lt_next_random(state) >> 11) + 1) * 0x1p-53;
    double gap = -log(u) * (double)mean;
    return gap < 1.0 ? 1 : (uint64_t)gap;
}

static uint64_t lt_seed(void) {
    uint64_t n = atomic_fetch_add_explicit(&lt_sampler_threads, 1, memory_order_relaxed);
    if (lt_config.sample_seed != 0) return lt_splitmix64(lt_config.sample_seed + n) | 1;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    uint64_t mix = (uint64_t)now.tv_nsec ^ ((uint64_t)now.tv_sec << 32) ^ (uint64_t)(uintptr_t)&lt_self ^
                   ((uint64_t)getpid() << 16) ^ n;
    return lt_splitmix64(mix) | 1;
}

void lt_sampler_start(void) {
    if (lt_config.sample_bytes == 0) return;
    size_t buckets = (size_t)1 << LT_SAMPLED_BUCKETS_LOG2;
    /* Mapped, never malloc'd; pages are touched only as buckets fill. */
    void *table =
        mmap(NULL, buckets * sizeof *lt_sampled_table, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (table == MAP_FAILED) {
        lt_diag("cannot map the table of sampled blocks; recording every allocation instead", NULL);
        lt_config.sample_bytes = 0;
        return;
    }
    lt_sampled_table = table;
    lt_sampler_mean = lt_config.sample_bytes;
}

int lt_sampler_take(uint64_t size) {
    uint64_t mean = lt_sampler_mean;
    if (mean == 0) return 1;
    struct lt_thread_state *self = &lt_self;
    if (LT_UNLIKELY(self->sample_rng == 0)) {
        self->sample_rng = lt_seed();
        self->sample_left = lt_draw_gap(&self->sample_rng, mean);
    }
    /* A block of 0 bytes covers no byte a sample point could fall on. */
    if (self->sample_left > size || size == 0) {
        self->sample_left -= size;
        return 0;
    }
    /* The next gap starts at the block's end: the process is memoryless, so the bytes of this block past the
     * point that sampled it do not count towards the next. */
    self->sample_left = lt_draw_gap(&self->sample_rng, mean);
    return 1;
}

int lt_sampler_remember(uint64_t address) {
    if (lt_sampler_mean == 0) return 1;
    uint32_t bucket = lt_sampled_bucket(address);
    atomic_fetch_add_explicit(&lt_sampled_counts[bucket], 1, memory_order_relaxed);
    for (uint32_t way = 0; way < LT_SAMPLED_WAYS; way++) {
        uint64_t empty = 0;
        if (atomic_compare_exchange_strong_explicit(&lt_sampled_table[bucket][way], &empty, address,
                                                    memory_order_relaxed, memory_order_relaxed))
            return 1;
    }
    /* LT_SAMPLED_WAYS sampled blocks live in this bucket already: the block is left unsampled, and counted. */
    atomic_fetch_sub_explicit(&lt_sampled_counts[bucket], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&lt_counters.samples_refused, 1, memory_order_relaxed);
    return 0;
}

int lt_sampler_forget_in(uint32_t bucket, uint64_t address) {
    for (uint32_t way = 0; way < LT_SAMPLED_WAYS; way++) {
        uint64_t expected = address;
        if (atomic_load_explicit(&lt_sampled_table[bucket][way], memory_order_relaxed) == address &&
            atomic_compare_exchange_strong_explicit(&lt_sampled_table[bucket][way], &expected, 0, memory_order_relaxed,
                                                    memory_order_relaxed)) {
            atomic_fetch_sub_explicit(&lt_sampled_counts[bucket], 1, memory_order_relaxed);
            return 1;
        }
    }
    return 0;
}

#ifdef LT_TESTING
uint64_t lt_sampler_gap_for_testing(uint64_t *state, uint64_t mean) { return lt_draw_gap(state, mean); }
#endif
