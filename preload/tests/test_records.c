/*
 * The record encoders (lt_records.h) against leaktrack_wire.h's structs: every record the shim writes reads
 * back, through the header's struct for it, as the values it was given; every record carries its ring
 * position as its tag; and a claim that cannot be made is counted, never silent. No lifecycle here: a ring
 * is mapped and the encoders are called directly.
 */
#include "lt_test.h"

#include "lt_records.h"
#include "lt_ring.h"
#include "lt_shm.h"
#include "lt_state.h"

/* Values that differ from run to run of the loop, so a field read from the wrong place cannot match. */
static uint64_t lt_test_random_state = 0x9e3779b97f4a7c15ull;
static uint64_t next_random(void) {
    lt_test_random_state ^= lt_test_random_state << 13;
    lt_test_random_state ^= lt_test_random_state >> 7;
    lt_test_random_state ^= lt_test_random_state << 17;
    return lt_test_random_state;
}

#define RING_LOG2 LT_RING_MIN_LOG2

/* A ring of our own, as the shim maps it, whose words we read directly. */
static void map_ring(uint64_t start) {
    int fd = lt_ring_create(RING_LOG2);
    CHECK(fd >= 0, "lt_ring_create");
    CHECK(lt_ring_map(fd, RING_LOG2) == 0, "lt_ring_map");
    close(fd);
    atomic_store(lt_ring.write, start);
    atomic_store(lt_ring.read, start);
}

/* Copies the record at `pos` out of the ring (it may wrap) into words[]; checks its header. */
static uint32_t read_record(uint64_t pos, uint32_t type, uint64_t *words, uint32_t max) {
    uint64_t header = atomic_load(&lt_ring.words[pos & lt_ring.mask]);
    CHECK_EQ(lt_header_type(header), type);
    CHECK_EQ(lt_header_tag(header), pos & LT_TAG_MASK);
    uint32_t count = lt_header_words(header);
    CHECK(count >= 1 && count <= max, "a record of %u words", count);
    for (uint32_t i = 0; i < count; i++) words[i] = atomic_load(&lt_ring.words[(pos + i) & lt_ring.mask]);
    return count;
}

static uint64_t claimed(void) { return atomic_load(lt_ring.write); }

static void alloc_free_and_realloc_round_trip(void) {
    map_ring(0);
    uint64_t words[64];
    for (int round = 0; round < 1000; round++) {
        uint64_t ptr = next_random(), size = next_random() >> (round % 64);
        uint32_t stack = (uint32_t)next_random();
        uint8_t kind = (uint8_t)(1 + round % 9);
        uint16_t thread = (uint16_t)next_random();

        uint64_t pos = claimed();
        lt_record_alloc(ptr, size, stack, kind, thread);
        struct lt_alloc alloc;
        CHECK_EQ(read_record(pos, LT_REC_ALLOC, words, 64), sizeof alloc / 8);
        memcpy(&alloc, words, sizeof alloc);
        CHECK_EQ(alloc.ptr, ptr);
        CHECK_EQ(alloc.size, size);
        CHECK_EQ(alloc.stack, stack);
        CHECK_EQ(alloc.kind, kind);
        CHECK_EQ(alloc.thread, thread);
        CHECK_EQ(alloc.reserved, 0);

        pos = claimed();
        CHECK_EQ(lt_record_free(LT_REC_FREE, ptr), pos);
        struct lt_free freed;
        CHECK_EQ(read_record(pos, LT_REC_FREE, words, 64), sizeof freed / 8);
        memcpy(&freed, words, sizeof freed);
        CHECK_EQ(freed.ptr, ptr);

        uint64_t begin = lt_record_free(LT_REC_REALLOC_BEGIN, ptr);
        CHECK_EQ(read_record(begin, LT_REC_REALLOC_BEGIN, words, 64), sizeof freed / 8);
        uint64_t new_ptr = next_random();
        uint8_t status = round % 2 ? LT_REALLOC_FAILED : LT_REALLOC_DONE;
        uint8_t realloc_kind = round % 3 ? LT_KIND_REALLOC : LT_KIND_REALLOCARRAY;
        pos = claimed();
        lt_record_realloc_end(begin, new_ptr, size, stack, status, realloc_kind, (uint16_t)~thread);
        struct lt_realloc_end end;
        CHECK_EQ(read_record(pos, LT_REC_REALLOC_END, words, 64), sizeof end / 8);
        memcpy(&end, words, sizeof end);
        CHECK_EQ(end.begin_tag, begin & LT_TAG_MASK);
        CHECK_EQ(end.new_ptr, new_ptr);
        CHECK_EQ(end.size, size);
        CHECK_EQ(end.stack, stack);
        CHECK_EQ(end.status, status);
        CHECK_EQ(end.kind, realloc_kind);
        CHECK_EQ(end.thread, (uint16_t)~thread);
        /* The collector has read them: the space is free again. */
        atomic_store(lt_ring.read, claimed());
    }
    CHECK_EQ(lt_self.claiming, 0);
}

/* Positions count on past 2^40 (the tag's width) and wrap around the ring: tags are positions modulo 2^40,
 * and a record that straddles the ring's end reads back whole. */
static void tags_wrap_with_positions(void) {
    uint64_t capacity = UINT64_C(1) << RING_LOG2;
    map_ring((UINT64_C(1) << LT_TAG_BITS) - 3);
    uint64_t words[64];
    for (int round = 0; round < 3 * (int)capacity / 4; round++) {
        uint64_t pos = claimed();
        uint64_t ptr = next_random(), size = next_random();
        lt_record_alloc(ptr, size, 7, LT_KIND_MALLOC, 1);
        struct lt_alloc alloc;
        read_record(pos, LT_REC_ALLOC, words, 64);
        memcpy(&alloc, words, sizeof alloc);
        CHECK_EQ(alloc.ptr, ptr);
        CHECK_EQ(alloc.size, size);
        /* The collector has read it: the space is free again. */
        atomic_store(lt_ring.read, claimed());
    }
    CHECK(claimed() > (UINT64_C(1) << LT_TAG_BITS) + capacity, "the positions did not pass 2^40 and a lap");
}

static void stack_round_trip(void) {
    map_ring(5);
    static uint64_t words[LT_MAX_DEPTH + 2];
    void *frames[LT_MAX_DEPTH];
    for (uint32_t depth = 1; depth <= LT_MAX_DEPTH; depth += 37) {
        for (uint32_t i = 0; i < depth; i++) frames[i] = (void *)(uintptr_t)next_random();
        uint32_t id = (uint32_t)next_random();
        int truncated = depth % 2;
        uint64_t pos = claimed();
        lt_record_stack(id, frames, depth, truncated);
        struct lt_stack stack;
        CHECK_EQ(read_record(pos, LT_REC_STACK, words, LT_MAX_DEPTH + 2), sizeof stack / 8 + depth);
        memcpy(&stack, words, sizeof stack);
        CHECK_EQ(stack.id, id);
        CHECK_EQ(stack.depth & ~LT_STACK_TRUNCATED, depth);
        CHECK_EQ((stack.depth & LT_STACK_TRUNCATED) != 0, truncated);
        for (uint32_t i = 0; i < depth; i++) CHECK_EQ(words[sizeof stack / 8 + i], (uintptr_t)frames[i]);
        atomic_store(lt_ring.read, claimed());
    }
}

static void thread_round_trip(void) {
    map_ring(3);
    uint64_t words[16];
    static const char *const names[] = {"", "a", "worker-7", "exactly15bytes!"};
    for (size_t n = 0; n < sizeof names / sizeof names[0]; n++) {
        char name[LT_THREAD_NAME_SIZE] = {0};
        memcpy(name, names[n], strlen(names[n]));
        uint32_t ordinal = 1 + (uint32_t)(next_random() % (LT_THREAD_MANY - 1)), tid = (uint32_t)next_random();
        uint64_t pos = claimed();
        lt_record_thread(ordinal, tid, name);
        struct lt_thread thread;
        CHECK_EQ(read_record(pos, LT_REC_THREAD, words, 16), sizeof thread / 8);
        memcpy(&thread, words, sizeof thread);
        CHECK_EQ(thread.ordinal, ordinal);
        CHECK_EQ(thread.tid, tid);
        CHECK(memcmp(thread.name, name, sizeof name) == 0, "the name differs: %.16s", thread.name);
        atomic_store(lt_ring.read, claimed());
    }
}

static void modules_round_trip(void) {
    map_ring(0);
    uint64_t words[1024];
    uint64_t adds = next_random(), subs = next_random();
    uint64_t pos = claimed();
    lt_record_modules_mark(LT_REC_MODULES_BEGIN, adds, subs);
    struct lt_modules_mark mark;
    CHECK_EQ(read_record(pos, LT_REC_MODULES_BEGIN, words, 1024), sizeof mark / 8);
    memcpy(&mark, words, sizeof mark);
    CHECK_EQ(mark.adds, adds);
    CHECK_EQ(mark.subs, subs);

    for (uint16_t nsegments = 0; nsegments <= LT_MAX_SEGMENTS; nsegments += 5) {
        struct lt_segment segments[LT_MAX_SEGMENTS];
        for (uint16_t i = 0; i < nsegments; i++) {
            segments[i].start = next_random();
            segments[i].end = segments[i].start + (next_random() >> 20);
        }
        unsigned char build_id[LT_MAX_BUILD_ID];
        uint32_t build_id_len = (uint32_t)(next_random() % (LT_MAX_BUILD_ID + 1));
        for (uint32_t i = 0; i < build_id_len; i++) build_id[i] = (unsigned char)next_random();
        char path[200];
        uint32_t path_len = (uint32_t)snprintf(path, sizeof path, "/lib/lib%llu.so", (unsigned long long)next_random());
        uint64_t bias = next_random();

        pos = claimed();
        CHECK_EQ(lt_record_module(bias, segments, nsegments, build_id, build_id_len, path, path_len), 0);
        struct lt_module module;
        uint32_t count = read_record(pos, LT_REC_MODULE, words, 1024);
        CHECK_EQ(count,
                 sizeof module / 8 + 2u * nsegments + lt_words_for_bytes(build_id_len) + lt_words_for_bytes(path_len));
        memcpy(&module, words, sizeof module);
        CHECK_EQ(module.bias, bias);
        CHECK_EQ(module.path_len, path_len);
        CHECK_EQ(module.build_id_len, build_id_len);
        CHECK_EQ(module.nsegments, nsegments);
        const unsigned char *at = (const unsigned char *)words + sizeof module;
        struct lt_segment segment;
        for (uint16_t i = 0; i < nsegments; i++, at += sizeof segment) {
            memcpy(&segment, at, sizeof segment);
            CHECK_EQ(segment.start, segments[i].start);
            CHECK_EQ(segment.end, segments[i].end);
        }
        CHECK(memcmp(at, build_id, build_id_len) == 0, "the build id differs");
        for (uint32_t i = build_id_len; i < lt_words_for_bytes(build_id_len) * 8; i++) CHECK_EQ(at[i], 0);
        at += lt_words_for_bytes(build_id_len) * 8;
        CHECK(memcmp(at, path, path_len) == 0, "the path differs");
        for (uint32_t i = path_len; i < lt_words_for_bytes(path_len) * 8; i++) CHECK_EQ(at[i], 0);
        atomic_store(lt_ring.read, claimed());
    }
    pos = claimed();
    lt_record_modules_mark(LT_REC_MODULES_END, adds, subs);
    CHECK_EQ(read_record(pos, LT_REC_MODULES_END, words, 1024), sizeof mark / 8);
}

static void final_carries_every_counter(void) {
    map_ring(11);
    atomic_store(&lt_counters.no_stack, next_random());
    atomic_store(&lt_counters.stacks_dropped, next_random());
    atomic_store(&lt_counters.bootstrap_allocs, next_random());
    atomic_store(&lt_counters.failed_allocs, next_random());
    atomic_store(&lt_counters.skipped_words, next_random());
    uint64_t status = next_random(), words[16];
    uint64_t pos = claimed();
    struct lt_final final;
    CHECK_EQ(lt_record_final(status), pos + sizeof final / 8);
    CHECK_EQ(read_record(pos, LT_REC_FINAL, words, 16), sizeof final / 8);
    memcpy(&final, words, sizeof final);
    CHECK_EQ(final.no_stack, atomic_load(&lt_counters.no_stack));
    CHECK_EQ(final.stacks_dropped, atomic_load(&lt_counters.stacks_dropped));
    CHECK_EQ(final.bootstrap_allocs, atomic_load(&lt_counters.bootstrap_allocs));
    CHECK_EQ(final.failed_allocs, atomic_load(&lt_counters.failed_allocs));
    CHECK_EQ(final.skipped_words, atomic_load(&lt_counters.skipped_words));
    CHECK_EQ(final.exit_status, status);
    CHECK_EQ(final.samples_refused, 0);
}

static void hello_states_who_is_talking(void) {
    static uint64_t words[LT_HELLO_MAX_WORDS];
    static char exe[LT_MAX_PATH], cmdline[LT_MAX_CMDLINE];
    static const uint32_t lengths[] = {0, 1, 7, 8, 9, 1000, LT_MAX_PATH};
    for (size_t n = 0; n < sizeof lengths / sizeof lengths[0]; n++) {
        uint32_t exe_len = lengths[n], cmdline_len = exe_len == LT_MAX_PATH ? LT_MAX_CMDLINE : exe_len * 3;
        for (uint32_t i = 0; i < exe_len; i++) exe[i] = (char)('a' + next_random() % 26);
        for (uint32_t i = 0; i < cmdline_len; i++) cmdline[i] = (char)(next_random() % 2 ? '\0' : 'x');
        uint32_t depth = (uint32_t)next_random(), log2 = (uint32_t)next_random();
        int forked = exe_len % 2;
        uint32_t total = lt_record_hello(words, forked, depth, log2, 0, exe, exe_len, cmdline, cmdline_len);
        struct lt_hello hello;
        memcpy(&hello, words, sizeof hello);
        CHECK_EQ(total, sizeof hello / 8 + lt_words_for_bytes(exe_len) + lt_words_for_bytes(cmdline_len));
        CHECK(total <= LT_HELLO_MAX_WORDS, "HELLO of %u words overflows its buffer", total);
        CHECK_EQ(lt_header_type(hello.header), LT_REC_HELLO);
        CHECK_EQ(lt_header_words(hello.header), total);
        CHECK_EQ(lt_header_tag(hello.header), 0); /* it travels over the socket, not the ring */
        CHECK(memcmp(hello.magic, LT_WIRE_MAGIC, LT_WIRE_MAGIC_SIZE) == 0, "the magic differs");
        CHECK_EQ(hello.version, LT_WIRE_VERSION);
        CHECK_EQ(hello.pointer_size, sizeof(void *));
        CHECK_EQ(hello.little_endian, 1);
        CHECK_EQ(hello.flags, forked ? LT_HELLO_FORKED : 0);
        CHECK_EQ(hello.pid, getpid());
        CHECK_EQ(hello.ppid, getppid());
        CHECK_EQ(hello.max_depth, depth);
        CHECK_EQ(hello.ring_log2, log2);
        CHECK_EQ(hello.exe_len, exe_len);
        CHECK_EQ(hello.cmdline_len, cmdline_len);
        const unsigned char *tail = (const unsigned char *)words + sizeof hello;
        CHECK(memcmp(tail, exe, exe_len) == 0, "the executable path differs");
        CHECK(memcmp(tail + lt_words_for_bytes(exe_len) * 8, cmdline, cmdline_len) == 0, "the command line differs");
        for (uint32_t i = exe_len; i < lt_words_for_bytes(exe_len) * 8; i++) CHECK_EQ(tail[i], 0);
    }
}

/* A signal handler's record that could only be written once the collector passed its own thread's unpublished
 * record is dropped (lt_ring.h): its words are counted in skipped_words, never lost silently. */
static void a_claim_that_cannot_be_made_is_counted(void) {
    uint64_t capacity = UINT64_C(1) << RING_LOG2;
    map_ring(capacity * 3);
    /* This thread holds an unpublished claim at the oldest position a full ring still allows. */
    lt_self.claiming = 1;
    lt_self.claimed_at = claimed() - capacity + 1;
    uint64_t before = claimed(), skipped = atomic_load(&lt_counters.skipped_words);
    lt_record_alloc(1, 2, 3, LT_KIND_MALLOC, 1);
    CHECK_EQ(claimed(), before); /* nothing claimed */
    CHECK_EQ(atomic_load(&lt_counters.skipped_words), skipped + sizeof(struct lt_alloc) / 8);
    CHECK_EQ(lt_record_free(LT_REC_FREE, 1), UINT64_MAX);
    CHECK_EQ(atomic_load(&lt_counters.skipped_words), skipped + (sizeof(struct lt_alloc) + sizeof(struct lt_free)) / 8);
    /* With the unpublished claim recent enough, the same record goes out. */
    lt_self.claimed_at = claimed();
    lt_record_alloc(1, 2, 3, LT_KIND_MALLOC, 1);
    CHECK_EQ(claimed(), before + sizeof(struct lt_alloc) / 8);
    CHECK_EQ(lt_self.claiming, 1);
}

TESTS(TEST(alloc_free_and_realloc_round_trip), TEST(tags_wrap_with_positions), TEST(stack_round_trip),
      TEST(thread_round_trip), TEST(modules_round_trip), TEST(final_carries_every_counter),
      TEST(hello_states_who_is_talking), TEST(a_claim_that_cannot_be_made_is_counted))
