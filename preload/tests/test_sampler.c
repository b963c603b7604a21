/*
 * The sampler (lt_sampler.h): its gaps are exponential with the configured mean, an allocation of s bytes is
 * sampled with probability 1 - exp(-s / mean), and the table of sampled blocks answers every free exactly:
 * a remembered block's free is recorded once, any other free not at all, and a full bucket refuses a block
 * instead of losing one. The bounds are five standard deviations of the figure checked; the generators are
 * seeded, so a run is the same every time.
 */
#include <math.h>

#include "lt_test.h"

#include "lt_config.h"
#include "lt_sampler.h"
#include "lt_state.h"

#define MEAN 65536u

static void start_sampling(void) {
    lt_config.sample_bytes = MEAN;
    lt_config.sample_seed = 12345;
    lt_sampler_start();
    CHECK_EQ(lt_sampler_mean, MEAN);
}

static void gaps_are_exponential_with_the_mean(void) {
    uint64_t state = 0x243F6A8885A308D3ull;
    const int n = 200000;
    double sum = 0;
    int longer = 0;
    for (int i = 0; i < n; i++) {
        uint64_t gap = lt_sampler_gap_for_testing(&state, MEAN);
        CHECK(gap >= 1, "a gap of 0");
        sum += (double)gap;
        if (gap > MEAN) longer++;
    }
    /* The mean of n exponentials has standard deviation mean / sqrt(n); P(gap > mean) = 1/e. */
    double mean = sum / n;
    CHECK(fabs(mean - MEAN) < 5 * MEAN / sqrt(n), "mean gap %.1f, expected %u", mean, MEAN);
    double share = (double)longer / n, e = exp(-1.0);
    CHECK(fabs(share - e) < 5 * sqrt(e * (1 - e) / n), "share of gaps above the mean %.4f, expected %.4f", share, e);
}

/* Allocations of a quarter of the mean are sampled with probability 1 - e^(-1/4); those far above the
 * mean always. */
static void an_allocation_is_sampled_with_its_probability(void) {
    start_sampling();
    const int n = 200000;
    int sampled = 0;
    for (int i = 0; i < n; i++) sampled += lt_sampler_take(MEAN / 4);
    double p = 1 - exp(-0.25), share = (double)sampled / n;
    CHECK(fabs(share - p) < 5 * sqrt(p * (1 - p) / n), "sampled share %.4f, expected %.4f", share, p);
    for (int i = 0; i < 1000; i++) CHECK(lt_sampler_take(40u * MEAN), "an allocation of 40 means passed over");
    for (int i = 0; i < 1000; i++) CHECK(!lt_sampler_take(0), "an allocation of 0 bytes sampled");
}

/* Exact mode: every allocation and every free is recorded, and the table is never touched. */
static void exact_mode_records_everything(void) {
    CHECK_EQ(lt_sampler_mean, 0);
    CHECK(lt_sampler_take(1) && lt_sampler_take(0), "exact mode passed over an allocation");
    CHECK(lt_sampler_remember(0x1000) && lt_sampler_records_free(0x1000) && lt_sampler_records_free(0x1000),
          "exact mode left a free unrecorded");
    CHECK(!lt_sampler_passes_over(1), "exact mode passed over an allocation");
}

static void a_sampled_block_is_freed_once(void) {
    start_sampling();
    uint64_t block = 0x7f0000001230ull;
    CHECK(!lt_sampler_records_free(block), "a block never sampled has its free recorded");
    CHECK(lt_sampler_remember(block), "remember");
    CHECK(lt_sampler_records_free(block), "a sampled block's free was not recorded");
    CHECK(!lt_sampler_records_free(block), "a sampled block's free was recorded twice");
    CHECK(!lt_sampler_records_free(block + 16), "a neighbour's free was recorded");
}

/* One block more than a bucket has ways: the last is refused (left unsampled, and counted), never put where a
 * free cannot find it; once a way is free again it is taken. */
#define WAYS LT_SAMPLED_WAYS
static void a_full_bucket_refuses_a_block(void) {
    start_sampling();
    uint64_t same[WAYS + 1];
    same[0] = 0x555500000000ull;
    uint32_t bucket = lt_sampled_bucket(same[0]);
    unsigned found = 1;
    for (uint64_t a = same[0] + 16; found < WAYS + 1; a += 16)
        if (lt_sampled_bucket(a) == bucket) same[found++] = a;
    for (unsigned i = 0; i < WAYS; i++) CHECK(lt_sampler_remember(same[i]), "remember %u", i);
    CHECK(!lt_sampler_remember(same[WAYS]), "a block more than its ways went into a bucket");
    CHECK_EQ(atomic_load(&lt_counters.samples_refused), 1);
    CHECK(!lt_sampler_records_free(same[WAYS]), "the refused block's free was recorded");
    CHECK(lt_sampler_records_free(same[2]), "a remembered block's free was not recorded");
    CHECK(lt_sampler_remember(same[WAYS]), "the freed way was not taken");
    for (unsigned i = 0; i < WAYS + 1; i++) CHECK_EQ(lt_sampler_records_free(same[i]), i != 2);
    CHECK_EQ(atomic_load(&lt_sampled_counts[bucket]), 0);
    CHECK_EQ(atomic_load(&lt_counters.samples_refused), 1);
}

/* Threads remember and forget blocks of the same buckets at once: every block is found exactly once. */
#define THREADS 4
#define BLOCKS  2000
static void *churn_blocks(void *argument) {
    uint64_t base = (uint64_t)(uintptr_t)argument;
    for (int round = 0; round < 200; round++) {
        for (uint64_t i = 0; i < BLOCKS; i++) {
            if (!lt_sampler_remember(base + i * 16 * THREADS)) return (void *)1;
        }
        for (uint64_t i = 0; i < BLOCKS; i++) {
            if (!lt_sampler_records_free(base + i * 16 * THREADS)) return (void *)2;
            if (lt_sampler_records_free(base + i * 16 * THREADS)) return (void *)3;
        }
    }
    return NULL;
}

static void threads_share_the_table(void) {
    start_sampling();
    pthread_t threads[THREADS];
    for (uintptr_t t = 0; t < THREADS; t++)
        CHECK_EQ(pthread_create(&threads[t], NULL, churn_blocks, (void *)(0x100000000ull + t * 16)), 0);
    for (int t = 0; t < THREADS; t++) {
        void *result;
        pthread_join(threads[t], &result);
        CHECK(result == NULL, "thread %d: %s", t,
              result == (void *)1   ? "a bucket was full"
              : result == (void *)2 ? "a remembered block was not found"
                                    : "a block was found twice");
    }
    for (uint32_t b = 0; b < (1u << LT_SAMPLED_BUCKETS_LOG2); b++) CHECK_EQ(atomic_load(&lt_sampled_counts[b]), 0);
}

TESTS(TEST(gaps_are_exponential_with_the_mean), TEST(an_allocation_is_sampled_with_its_probability),
      TEST(exact_mode_records_everything), TEST(a_sampled_block_is_freed_once), TEST(a_full_bucket_refuses_a_block),
      TEST(threads_share_the_table))
