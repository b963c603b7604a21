/*
 * The unwinder's replay of the thread's last walk (lt_unwind.c): on stacks that share frames with the last
 * walk, differ above a frame that matched it (another caller at the same CFA), recurse to other depths, are
 * cut by the frame limit, or outlast the frames a walk keeps, it gives exactly the frames of a walk made
 * without it, in two threads at once and after lt_unwind_forget; through the hooks, two call sites that meet
 * at the same CFA stay two stacks.
 *
 * The stack table when it is full: driven there through lt_stacks_set_capacity_for_testing, every allocation
 * whose stack finds no room goes out with LT_DROPPED_STACK, is counted in stacks_dropped, and FINAL carries
 * the count to the collector, never silent. Each test also saves the stream it received, with what
 * `leaktrack report` and `leaktrack dump` must say about it, for preload/tests/run to check with the real
 * collector.
 */
#include <alloca.h>
#include <dlfcn.h>

#include "lt_test.h"

#include "lt_hooks.h"
#include "lt_shutdown.h"
#include "lt_stacks.h"
#include "lt_state.h"
#include "lt_unwind.h"

static struct lt_test_collector collector;

/* An allocation at recursion depth `depth`: each depth is a distinct stack. */
static LT_TEST_NOINLINE void *allocate_at_depth(int depth, size_t size) {
    void *p = depth == 0 ? lt_replacement_malloc(size) : allocate_at_depth(depth - 1, size);
    __asm__ volatile("" ::: "memory"); /* no tail call: every level keeps its frame */
    return p;
}

/* ---------------------------------------------------------------------------------------------------- */
/* replaying the last walk */

#define WALK_MAX 520 /* LT_MAX_DEPTH + 8, as lt_stacks.c asks for at the deepest setting */

static __thread int walk_limit = WALK_MAX;
static __thread uint64_t walks_compared;

/* The frames above this function, with the last walk and without it: the same. */
static LT_TEST_NOINLINE void compare_walks(void) {
    void *with[WALK_MAX], *alone[WALK_MAX];
    int got = lt_unwind_backtrace(__builtin_frame_address(0), with, walk_limit);
    int want = lt_unwind_backtrace_alone_for_testing(__builtin_frame_address(0), alone, walk_limit);
    CHECK(want > 0, "the unwinder declined an ordinary stack (%d)", want);
    CHECK(got == want, "%d frames with the last walk, %d without", got, want);
    for (int i = 0; i < got; i++)
        CHECK(with[i] == alone[i], "frame %d: %p with the last walk, %p without", i, with[i], alone[i]);
    walks_compared++;
}

LT_TEST_NOINLINE int walk_at_depth(int depth);
LT_TEST_NOINLINE int walk_at_depth(int depth) {
    if (depth == 0) {
        compare_walks();
        return 0;
    }
    int r = walk_at_depth(depth - 1);
    __asm__ volatile("" ::: "memory"); /* no tail call: every level keeps its frame */
    return r + 1;
}

/* Two callers with the same frame, called from the same place: below them the frames have the same CFAs and
 * return addresses, and the first difference is the return address into one or the other. */
LT_TEST_NOINLINE int walk_via_a(int depth);
LT_TEST_NOINLINE int walk_via_a(int depth) {
    int r = walk_at_depth(depth);
    __asm__ volatile("" ::: "memory");
    return r;
}
LT_TEST_NOINLINE int walk_via_b(int depth);
LT_TEST_NOINLINE int walk_via_b(int depth) {
    int r = walk_at_depth(depth);
    __asm__ volatile("" ::: "memory");
    return r;
}

/* Frames without a frame pointer (the tests are built with one), where only the return addresses tell what
 * follows: walk_via_big (a 48-byte frame) and walk_via_pad + walk_via_small (32 + 16) put walk_at_depth at the
 * same CFA, and the return address there is the first difference. */
int walk_via_big(int depth);
int walk_via_pad(int depth);
int walk_via_small(int depth);
__asm__(".text\n"
        ".globl walk_via_big\n.type walk_via_big, @function\nwalk_via_big:\n"
        ".cfi_startproc\n\tsub $40, %rsp\n\t.cfi_def_cfa_offset 48\n\tcall walk_at_depth@PLT\n"
        "\tadd $40, %rsp\n\t.cfi_def_cfa_offset 8\n\tret\n\t.cfi_endproc\n.size walk_via_big, .-walk_via_big\n"
        ".globl walk_via_pad\n.type walk_via_pad, @function\nwalk_via_pad:\n"
        ".cfi_startproc\n\tsub $24, %rsp\n\t.cfi_def_cfa_offset 32\n\tcall walk_via_small\n"
        "\tadd $24, %rsp\n\t.cfi_def_cfa_offset 8\n\tret\n\t.cfi_endproc\n.size walk_via_pad, .-walk_via_pad\n"
        ".globl walk_via_small\n.type walk_via_small, @function\nwalk_via_small:\n"
        ".cfi_startproc\n\tsub $8, %rsp\n\t.cfi_def_cfa_offset 16\n\tcall walk_at_depth@PLT\n"
        "\tadd $8, %rsp\n\t.cfi_def_cfa_offset 8\n\tret\n\t.cfi_endproc\n.size walk_via_small, .-walk_via_small\n");

/* A caller whose frame moved while the frame below it stayed at the same CFA with the same return address:
 * the alloca puts compare_walks at one fixed CFA whatever the depth, so only RBP tells the frames apart. */
static __thread uintptr_t fixed_sp;
LT_TEST_NOINLINE void walk_at_a_fixed_sp(void);
LT_TEST_NOINLINE void walk_at_a_fixed_sp(void) {
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);
    if (fixed_sp == 0) fixed_sp = here - 4096;
    char *pad = alloca(here - fixed_sp);
    pad[0] = 0;
    __asm__ volatile("" : : "r"(pad) : "memory");
    compare_walks();
    __asm__ volatile("" ::: "memory");
}
static LT_TEST_NOINLINE int fixed_sp_at_depth(int depth) {
    if (depth == 0) {
        walk_at_a_fixed_sp();
        return 0;
    }
    int r = fixed_sp_at_depth(depth - 1);
    __asm__ volatile("" ::: "memory");
    return r + 1;
}

static LT_TEST_NOINLINE void walk_shapes(void) {
    /* Recursions growing and shrinking by one frame, then by many; around the frames a walk keeps (136). */
    for (int depth = 0; depth <= 40; depth++) walk_at_depth(depth);
    for (int depth = 40; depth >= 0; depth--) walk_at_depth(depth);
    const int jumps[] = {3, 200, 5, 130, 135, 136, 137, 138, 300, 134, 0, 450, 450, 20, 140, 139, 7};
    for (size_t i = 0; i < sizeof jumps / sizeof jumps[0]; i++) walk_at_depth(jumps[i]);
    /* Another caller above frames that match the last walk's. */
    for (int round = 0; round < 20; round++) {
        walk_via_a(round % 4);
        walk_via_b(round % 4);
        walk_via_b(round % 4);
    }
    for (int round = 0; round < 20; round++) {
        walk_via_big(round % 3);
        walk_via_pad(round % 3);
        walk_via_pad(round % 3);
        walk_via_big(round % 3);
    }
    for (int round = 0; round < 20; round++) fixed_sp_at_depth(round % 5 == 4 ? 1 : 20 - round % 5);
    /* Walks cut by the frame limit, before and after whole ones. */
    const int limits[] = {1, 2, 3, 10, WALK_MAX, 2, WALK_MAX, 5, 6, 140, 5, WALK_MAX};
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        walk_limit = limits[i];
        walk_at_depth(8);
        walk_at_depth(9);
        walk_at_depth(200);
    }
    walk_limit = WALK_MAX;
}

static void *walk_shapes_thread(void *argument) {
    (void)argument;
    for (int i = 0; i < 50; i++) walk_shapes();
    return NULL;
}

static void the_last_walk_replayed_gives_a_plain_walks_frames(void) {
    CHECK_EQ(lt_unwind_init(), 0);
    pthread_t other;
    CHECK_EQ(pthread_create(&other, NULL, walk_shapes_thread, NULL), 0);
    for (int i = 0; i < 50; i++) {
        walk_shapes();
        if (i % 10 == 9) lt_unwind_forget(); /* what dlclose does: the last walk is no longer trusted */
    }
    CHECK_EQ(pthread_join(other, NULL), 0);
    /* The replay did happen, gave frames, and was cut short by differences and limits. */
    struct lt_unwind_replays replays = lt_unwind_replays_for_testing();
    CHECK(replays.replays > walks_compared / 2, "%llu replays in %llu walks", (unsigned long long)replays.replays,
          (unsigned long long)walks_compared);
    CHECK(replays.frames > 10 * walks_compared, "%llu frames replayed", (unsigned long long)replays.frames);
    CHECK(replays.cut_short > 0, "no replay was cut short");
}

/* Through the hooks: allocations from two callers that meet at the same CFA, alternately, are two stacks, each
 * starting at the allocating function and going through its own caller. */
LT_TEST_NOINLINE void *allocate_below(void);
LT_TEST_NOINLINE void *allocate_below(void) {
    void *p = lt_replacement_malloc(24);
    __asm__ volatile("" ::: "memory");
    return p;
}
LT_TEST_NOINLINE void *allocate_via_a(void);
LT_TEST_NOINLINE void *allocate_via_a(void) {
    void *p = allocate_below();
    __asm__ volatile("" ::: "memory");
    return p;
}
LT_TEST_NOINLINE void *allocate_via_b(void);
LT_TEST_NOINLINE void *allocate_via_b(void) {
    void *p = allocate_below();
    __asm__ volatile("" ::: "memory");
    return p;
}

static void two_callers_at_the_same_cfa_are_two_stacks(void) {
    lt_test_collector_listen(&collector);
    for (int i = 0; i < 30; i++) lt_replacement_free(i % 3 == 0 ? allocate_via_a() : allocate_via_b());
    lt_test_collector_accept(&collector);
    lt_test_collector_start_serving(&collector);
    lt_shutdown(0);
    lt_test_collector_join(&collector);
    CHECK_EQ(lt_test_count(&collector, LT_REC_STACK), 2);
    const char *callers[3] = {NULL, NULL, NULL}; /* by stack id */
    for (size_t i = 0; (i = lt_test_find(&collector, LT_REC_STACK, i)) != SIZE_MAX; i++) {
        struct lt_test_record record = lt_test_record_at(&collector, i);
        struct lt_stack stack;
        LT_TEST_AS(record, LT_REC_STACK, stack);
        CHECK(stack.id >= 1 && stack.id <= 2 && stack.depth >= 2, "stack %u of depth %u", stack.id, stack.depth);
        Dl_info first, second;
        void *frame0 = (void *)(uintptr_t)record.words[sizeof stack / 8];
        void *frame1 = (void *)(uintptr_t)record.words[sizeof stack / 8 + 1];
        CHECK(dladdr(frame0, &first) != 0 && first.dli_sname != NULL && strcmp(first.dli_sname, "allocate_below") == 0,
              "stack %u starts in %s", stack.id, first.dli_sname ? first.dli_sname : "?");
        CHECK(dladdr(frame1, &second) != 0 && second.dli_sname != NULL, "stack %u: no name for frame 1", stack.id);
        callers[stack.id] = second.dli_sname;
    }
    CHECK(callers[1] != NULL && callers[2] != NULL && strcmp(callers[1], callers[2]) != 0, "both stacks go through %s",
          callers[1] ? callers[1] : "?");
    CHECK(strcmp(callers[1], "allocate_via_a") == 0, "the first stack goes through %s", callers[1]);
    CHECK(strcmp(callers[2], "allocate_via_b") == 0, "the second stack goes through %s", callers[2]);
    /* Every allocation has the stack of its caller: a, b, b, a, b, b, ... */
    size_t n = 0;
    for (size_t i = 0; (i = lt_test_find(&collector, LT_REC_ALLOC, i)) != SIZE_MAX; i++, n++) {
        struct lt_alloc alloc;
        LT_TEST_AS(lt_test_record_at(&collector, i), LT_REC_ALLOC, alloc);
        CHECK_EQ(alloc.stack, n % 3 == 0 ? 1 : 2);
    }
    CHECK_EQ(n, 30);
}

/* ---------------------------------------------------------------------------------------------------- */
/* a full stack table */

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

TESTS(TEST(the_last_walk_replayed_gives_a_plain_walks_frames), TEST(two_callers_at_the_same_cfa_are_two_stacks),
      TEST(a_full_table_of_8_slots_drops_and_counts), TEST(a_full_table_of_64_slots_drops_and_counts),
      TEST(a_table_with_room_drops_nothing))
