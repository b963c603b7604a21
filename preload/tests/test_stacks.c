/*
 * The stack table when it is full: driven there through lt_stacks_set_capacity_for_testing, every allocation
 * whose stack finds no room goes out with LT_DROPPED_STACK, is counted in stacks_dropped, and FINAL carries
 * the count to the collector, never silent. Each test also saves the stream it received, with what
 * `leaktrack report` and `leaktrack dump` must say about it, for preload/tests/run to check with the real
 * collector.
 */
#include "lt_test.h"

#include "lt_hooks.h"
#include "lt_shutdown.h"
#include "lt_stacks.h"
#include "lt_state.h"

static struct lt_test_collector collector;

/* An allocation at recursion depth `depth`: each depth is a distinct stack. */
static LT_TEST_NOINLINE void *allocate_at_depth(int depth, size_t size) {
    void *p = depth == 0 ? lt_replacement_malloc(size) : allocate_at_depth(depth - 1, size);
    __asm__ volatile("" ::: "memory"); /* no tail call: every level keeps its frame */
    return p;
}

static void overflow(uint64_t slots, int distinct) {
    CHECK_EQ(lt_stacks_set_capacity_for_testing(slots), 0);
    lt_test_collector_listen(&collector);
    /* The table takes stacks up to 3/4 of its slots (lt_stacks.c). */
    uint64_t room = slots / 4 * 3;
    uint64_t kept = (uint64_t)distinct < room ? (uint64_t)distinct : room;
    uint64_t dropped_per_round = (uint64_t)distinct - kept;
    CHECK(dropped_per_round > 0, "%d distinct stacks fit in %llu slots: nothing to drop", distinct,
          (unsigned long long)slots);

    /* Two rounds over the same sites: a stack that found room keeps its id; one that did not is dropped (and
     * counted) at every allocation. */
    void *blocks[2][256];
    CHECK((size_t)distinct <= sizeof blocks[0] / sizeof blocks[0][0], "too many stacks");
    for (int round = 0; round < 2; round++)
        for (int depth = 0; depth < distinct; depth++) {
            blocks[round][depth] = allocate_at_depth(depth, 16 + (size_t)depth);
            CHECK(blocks[round][depth] != NULL, "malloc failed");
        }
    uint64_t dropped = 2 * dropped_per_round;
    CHECK_EQ(atomic_load(&lt_counters.stacks_dropped), dropped);

    lt_test_collector_accept(&collector);
    lt_test_collector_start_serving(&collector);
    lt_shutdown(0);
    lt_test_collector_join(&collector);

    /* The stream: `kept` STACK records with ids 1.., and ALLOC records whose stacks say which were dropped. */
    CHECK_EQ(lt_test_count(&collector, LT_REC_STACK), kept);
    unsigned char seen[256] = {0};
    for (size_t i = 0; (i = lt_test_find(&collector, LT_REC_STACK, i)) != SIZE_MAX; i++) {
        struct lt_stack stack;
        LT_TEST_AS(lt_test_record_at(&collector, i), LT_REC_STACK, stack);
        CHECK(stack.id >= 1 && stack.id <= kept, "stack id %u", stack.id);
        CHECK(!seen[stack.id]++, "stack id %u sent twice", stack.id);
    }
    uint64_t allocs = 0, without_stack = 0;
    for (size_t i = 0; (i = lt_test_find(&collector, LT_REC_ALLOC, i)) != SIZE_MAX; i++) {
        struct lt_alloc alloc;
        LT_TEST_AS(lt_test_record_at(&collector, i), LT_REC_ALLOC, alloc);
        allocs++;
        if (alloc.stack == LT_DROPPED_STACK) {
            without_stack++;
        } else {
            CHECK(alloc.stack >= 1 && alloc.stack <= kept, "an allocation refers to stack %u", alloc.stack);
        }
    }
    CHECK_EQ(allocs, 2u * (unsigned)distinct);
    CHECK_EQ(without_stack, dropped);

    /* FINAL carries the count. */
    struct lt_final final;
    LT_TEST_AS(lt_test_record_at(&collector, collector.records - 1), LT_REC_FINAL, final);
    CHECK_EQ(final.stacks_dropped, dropped);
    CHECK_EQ(final.no_stack, 0);

    /* For preload/tests/run: the stream, and what the collector's report and dump must say of it. */
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/stack-table-%llu.raw", lt_test_dir(), (unsigned long long)slots);
    lt_test_collector_save(&collector, path);
    snprintf(path, sizeof path, "%s/stack-table-%llu.expect", lt_test_dir(), (unsigned long long)slots);
    FILE *expect = fopen(path, "w");
    CHECK(expect != NULL, "%s: %s", path, strerror(errno));
    fprintf(expect, "%llu allocations have no stack: the stack table was full\n", (unsigned long long)dropped);
    fprintf(expect, "stacks-dropped=%llu\n", (unsigned long long)dropped);
    CHECK(fclose(expect) == 0, "close %s", path);
}

static void a_full_table_of_8_slots_drops_and_counts(void) { overflow(8, 20); }

static void a_full_table_of_64_slots_drops_and_counts(void) { overflow(64, 60); }

/* Below its capacity the table drops nothing: the count is what overflowed, not a constant. */
static void a_table_with_room_drops_nothing(void) {
    CHECK_EQ(lt_stacks_set_capacity_for_testing(64), 0);
    lt_test_collector_listen(&collector);
    for (int depth = 0; depth < 40; depth++) lt_replacement_free(allocate_at_depth(depth, 8));
    CHECK_EQ(atomic_load(&lt_counters.stacks_dropped), 0);
    lt_test_collector_accept(&collector);
    lt_test_collector_start_serving(&collector);
    lt_shutdown(0);
    lt_test_collector_join(&collector);
    CHECK_EQ(lt_test_count(&collector, LT_REC_STACK), 40);
    struct lt_final final;
    LT_TEST_AS(lt_test_record_at(&collector, collector.records - 1), LT_REC_FINAL, final);
    CHECK_EQ(final.stacks_dropped, 0);
}

TESTS(TEST(a_full_table_of_8_slots_drops_and_counts), TEST(a_full_table_of_64_slots_drops_and_counts),
      TEST(a_table_with_room_drops_nothing))
