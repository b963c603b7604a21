/*
 * Sampling (lt_sampler.c): with LEAKTRACK_SAMPLE=N the shim records one allocation per N bytes allocated on
 * average, as tcmalloc's and Go's heap profilers do. Sample points fall on the bytes allocated as a Poisson
 * process of mean gap N, so a block of s bytes is sampled with probability 1 - exp(-s / N) whatever came
 * before it, and the collector scales each sampled block back up by the inverse: unbiased estimates. Each
 * thread counts down the bytes to its next sample point in its own state; an allocation that ends before it
 * costs that subtraction and nothing else.
 *
 * A free must tell a sampled block from the rest at once: the sampled blocks' addresses are kept in a table
 * of the shim's own (buckets of LT_SAMPLED_WAYS addresses, by a hash of the address), with a byte per bucket
 * counting its entries in front of it. A free whose bucket counts 0 (nearly all of them: a 64 KiB array
 * that stays in cache) is of a block that was not sampled, and is recorded nowhere; else the bucket is
 * searched, and the entry taken out and the free recorded when it is there.
 */
#ifndef LT_SAMPLER_H
#define LT_SAMPLER_H

#include "lt_base.h"
#include "lt_state.h"

/* The mean gap in bytes; 0 in exact mode, and until tracking has started with LEAKTRACK_SAMPLE. */
extern LT_HIDDEN uint64_t lt_sampler_mean;

#define LT_SAMPLED_BUCKETS_LOG2 16u
#define LT_SAMPLED_WAYS         8u /* a bucket is one cache line */
/* Entries per bucket (see lt_sampler_remember), in front of the table: static, so a free reads it without
 * loading a pointer first (64 KiB of address space in every process; pages are touched only when sampling). */
extern LT_HIDDEN _Atomic uint8_t lt_sampled_counts[1u << LT_SAMPLED_BUCKETS_LOG2];

/* Starts sampling at the configured mean (lt_config.sample_bytes), which it sets to 0 if its table cannot be
 * mapped (the stream is then exact, and says so in HELLO). */
void lt_sampler_start(void);

/* Whether an allocation of `size` bytes is passed over without a record: in a sampled stream, when it ends
 * before this thread's next sample point. The hooks call it before anything else (realloc right after
 * taking the old block out of the table). */
static inline int lt_sampler_passes_over(uint64_t size) {
    if (LT_LIKELY(lt_sampler_mean == 0)) return 0;
    struct lt_thread_state *self = &lt_self;
    if (LT_LIKELY(self->sample_left > size)) {
        self->sample_left -= size;
        return 1;
    }
    return 0;
}

/* The allocation of `size` bytes reaches this thread's next sample point (or it is the thread's first, which
 * seeds its sampler): 1 if it is sampled, and then the next point is drawn. Exact mode: always 1. */
int lt_sampler_take(uint64_t size);

/* A sampled block, before it is handed out: its address goes into the table. 0 if its bucket is full (the
 * block is then left unsampled). Exact mode: 1, and nothing to do. */
int lt_sampler_remember(uint64_t address);

static inline uint32_t lt_sampled_bucket(uint64_t address) {
    /* Blocks are 16-byte aligned: the low bits carry nothing. */
    return (uint32_t)(((address >> 4) * UINT64_C(0x9E3779B97F4A7C15)) >> (64u - LT_SAMPLED_BUCKETS_LOG2));
}

int lt_sampler_forget_in(uint32_t bucket, uint64_t address);

/* A sampled stream's quick answer for a free: the block's bucket holds no sampled block. */
static inline int lt_sampler_surely_unsampled(uint64_t address) {
    return atomic_load_explicit(&lt_sampled_counts[lt_sampled_bucket(address)], memory_order_relaxed) == 0;
}

/* Whether the free (or realloc) of the block at `address` is recorded: always in exact mode; in a sampled
 * stream when the block was sampled, whose address then leaves the table. Call before the real free: the
 * address must not be handed out again while it is still in the table. */
static inline int lt_sampler_records_free(uint64_t address) {
    if (LT_LIKELY(lt_sampler_mean == 0)) return 1;
    uint32_t bucket = lt_sampled_bucket(address);
    if (LT_LIKELY(atomic_load_explicit(&lt_sampled_counts[bucket], memory_order_relaxed) == 0)) return 0;
    return lt_sampler_forget_in(bucket, address);
}

#ifdef LT_TESTING
/* Tests only: a gap drawn from `state` at mean `mean`, as a thread's sampler draws them. */
uint64_t lt_sampler_gap_for_testing(uint64_t *state, uint64_t mean);
#endif

#endif /* LT_SAMPLER_H */
