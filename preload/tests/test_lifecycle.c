/*
 * The lifecycle and the hooks, driven through the lt_replacement_* functions without preloading: the first
 * hook starts tracking (UNINITIALIZED -> ENABLED, HELLO with the ring's memfd), each allocation function
 * writes the record the wire header describes, lt_shutdown ends the stream with FINAL and waits for the
 * collector's DONE (-> DISABLED), LEAKTRACK_DISABLE and lt_disable switch tracking off, and a fork child
 * streams on a connection of its own while a child made without fork's handlers writes nothing.
 */
#include <dlfcn.h>
#include <signal.h>

#include "lt_test.h"

#include "lt_hooks.h"
#include "lt_shutdown.h"
#include "lt_state.h"

static struct lt_test_collector collector;

/* Allocation sites with names of their own, which the STACK records must start in. */
/* Not static: -rdynamic puts them in the dynamic symbol table, where dladdr finds them. */
LT_TEST_NOINLINE void *allocate_here(size_t size);
LT_TEST_NOINLINE void *allocate_here(size_t size) {
    void *p = lt_replacement_malloc(size);
    __asm__ volatile("" ::: "memory"); /* no tail call: this frame stays on the stack */
    return p;
}

LT_TEST_NOINLINE void *allocate_elsewhere(size_t size);
LT_TEST_NOINLINE void *allocate_elsewhere(size_t size) {
    void *p = lt_replacement_malloc(size);
    __asm__ volatile("" ::: "memory");
    return p;
}

static uint64_t ring_position(void) {
    return __atomic_load_n((uint64_t *)(collector.map + LT_RING_OFFSET_WRITE), __ATOMIC_ACQUIRE);
}

static uint64_t collector_state(void) {
    return __atomic_load_n((uint64_t *)(collector.map + LT_RING_OFFSET_COLLECTOR_STATE), __ATOMIC_ACQUIRE);
}

/* The ALLOC record of `ptr` among the records read so far (the last one, if several). */
static struct lt_alloc alloc_of(const void *ptr) {
    struct lt_alloc found = {0}, alloc;
    int seen = 0;
    for (size_t i = 0; (i = lt_test_find(&collector, LT_REC_ALLOC, i)) != SIZE_MAX; i++) {
        LT_TEST_AS(lt_test_record_at(&collector, i), LT_REC_ALLOC, alloc);
        if (alloc.ptr == (uintptr_t)ptr) {
            found = alloc;
            seen = 1;
        }
    }
    CHECK(seen, "no ALLOC record of %p", ptr);
    return found;
}

/* The last record of `type` among the records read so far. */
static struct lt_test_record last(uint32_t type) {
    for (size_t i = collector.records; i-- > 0;) {
        struct lt_test_record r = lt_test_record_at(&collector, i);
        if (r.type == type) return r;
    }
    lt_test_fail(__FILE__, __LINE__, "no record of type %u", type);
}

static struct lt_final final_record(void) {
    size_t at = lt_test_find(&collector, LT_REC_FINAL, 0);
    CHECK(at != SIZE_MAX, "no FINAL record");
    CHECK_EQ(at, collector.records - 1); /* FINAL is the last record */
    struct lt_final final;
    LT_TEST_AS(lt_test_record_at(&collector, at), LT_REC_FINAL, final);
    return final;
}

/* Ends the stream the way exit does, with the collector reading and answering, and checks that lt_shutdown
 * returned only once the collector had said DONE. */
static struct lt_final shut_down(uint64_t status) {
    lt_test_collector_start_serving(&collector);
    lt_shutdown(status);
    CHECK_EQ(collector_state(), LT_ACK_DONE);
    lt_test_collector_join(&collector);
    CHECK_EQ(atomic_load(&lt_state), LT_DISABLED);
    return final_record();
}

static void first_hook_starts_tracking(void) {
    lt_test_collector_listen(&collector);
    CHECK_EQ(atomic_load(&lt_state), LT_UNINITIALIZED);
    CHECK(!lt_test_collector_pending(&collector), "a connection before the shim started");

    /* Twice from the same call site: one stack. */
    void *blocks[2];
    for (int i = 0; i < 2; i++) {
        blocks[i] = allocate_here(40 + (size_t)i);
        CHECK(blocks[i] != NULL, "malloc failed");
    }
    void *first = blocks[0], *again = blocks[1];
    CHECK_EQ(atomic_load(&lt_state), LT_ENABLED);
    CHECK_EQ(lt_started, 1);
    CHECK_EQ(lt_stream_pid, getpid());

    /* HELLO, with the ring: a memfd sealed at its size. */
    lt_test_collector_accept(&collector);
    struct lt_hello hello;
    memcpy(&hello, collector.hello, sizeof hello);
    CHECK_EQ(hello.version, LT_WIRE_VERSION);
    CHECK_EQ(hello.pid, getpid());
    CHECK_EQ(hello.ppid, getppid());
    CHECK_EQ(hello.flags & LT_HELLO_FORKED, 0);
    int seals = fcntl(collector.ring_fd, F_GET_SEALS);
    CHECK(seals >= 0 && (seals & F_SEAL_SHRINK) && (seals & F_SEAL_GROW), "the ring is not sealed (%d)", seals);

    /* The module snapshot, then the stack, then the allocation that refers to it. */
    lt_test_collector_drain(&collector);
    size_t end = lt_test_find(&collector, LT_REC_MODULES_END, 0);
    size_t stack_at = lt_test_find(&collector, LT_REC_STACK, 0);
    size_t alloc_at = lt_test_find(&collector, LT_REC_ALLOC, 0);
    CHECK(lt_test_find(&collector, LT_REC_MODULES_BEGIN, 0) == 0, "the first ring record is not MODULES_BEGIN");
    CHECK(end != SIZE_MAX && end < stack_at && stack_at < alloc_at && alloc_at != SIZE_MAX,
          "records out of order: MODULES_END %zu, STACK %zu, ALLOC %zu", end, stack_at, alloc_at);
    char exe[PATH_MAX];
    ssize_t exe_len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    CHECK(exe_len > 0, "readlink");
    int found_exe = 0;
    for (size_t i = 0; i < end; i++) {
        struct lt_test_record r = lt_test_record_at(&collector, i);
        if (r.type != LT_REC_MODULE) continue;
        struct lt_module module;
        LT_TEST_AS(r, LT_REC_MODULE, module);
        const char *path = (const char *)r.words + sizeof module + module.nsegments * sizeof(struct lt_segment) +
                           lt_words_for_bytes(module.build_id_len) * 8;
        found_exe |= module.path_len == (uint32_t)exe_len && memcmp(path, exe, (size_t)exe_len) == 0;
    }
    CHECK(found_exe, "no MODULE record for the test program");
    struct lt_test_record stack_record = lt_test_record_at(&collector, stack_at);
    struct lt_stack stack;
    LT_TEST_AS(stack_record, LT_REC_STACK, stack);
    CHECK_EQ(stack.id, 1);
    CHECK(stack.depth > 0 && !(stack.depth & LT_STACK_TRUNCATED), "depth %u", stack.depth);
    Dl_info where;
    void *frame = (void *)(uintptr_t)stack_record.words[sizeof stack / 8];
    CHECK(dladdr(frame, &where) != 0 && where.dli_sname != NULL && strcmp(where.dli_sname, "allocate_here") == 0,
          "the stack's first frame %p is in %s, not in allocate_here", frame, where.dli_sname ? where.dli_sname : "?");
    struct lt_alloc alloc = alloc_of(first);
    CHECK_EQ(alloc.size, 40);
    CHECK_EQ(alloc.kind, LT_KIND_MALLOC);
    CHECK_EQ(alloc.stack, stack.id);

    CHECK_EQ(alloc_of(again).stack, stack.id);
    CHECK_EQ(alloc_of(again).size, 41);
    CHECK_EQ(lt_test_count(&collector, LT_REC_STACK), 1);

    /* Another site: another stack. */
    void *other = allocate_elsewhere(42);
    lt_replacement_free(first);
    lt_test_collector_drain(&collector);
    CHECK_EQ(alloc_of(other).stack, 2);
    CHECK_EQ(lt_test_count(&collector, LT_REC_STACK), 2);
    struct lt_free freed;
    LT_TEST_AS(lt_test_record_at(&collector, collector.records - 1), LT_REC_FREE, freed);
    CHECK_EQ(freed.ptr, (uintptr_t)first);

    struct lt_final final = shut_down(5);
    CHECK_EQ(final.exit_status, 5);
    CHECK_EQ(final.stacks_dropped, 0);
    CHECK_EQ(final.failed_allocs, 0);
    CHECK_EQ(final.no_stack, 0);

    /* Stopped: the hooks pass straight through, and a second shutdown writes nothing. */
    uint64_t position = ring_position();
    void *later = lt_replacement_malloc(8);
    CHECK(later != NULL, "malloc after the end failed");
    lt_replacement_free(later);
    lt_shutdown(6);
    CHECK_EQ(ring_position(), position);
    lt_replacement_free(again);
    lt_replacement_free(other);
}

static void leaktrack_disable_leaves_the_program_untracked(void) {
    lt_test_collector_listen(&collector);
    setenv("LEAKTRACK_DISABLE", "1", 1);
    void *p = lt_replacement_malloc(16);
    CHECK(p != NULL, "malloc failed");
    CHECK_EQ(atomic_load(&lt_state), LT_DISABLED);
    CHECK(!lt_test_collector_pending(&collector), "the disabled shim connected to the collector");
    lt_replacement_free(p);
}

static void lt_disable_stops_recording_without_final(void) {
    lt_test_collector_listen(&collector);
    lt_replacement_free(lt_replacement_malloc(16));
    lt_test_collector_accept(&collector);
    CHECK_EQ(atomic_load(&lt_state), LT_ENABLED);
    lt_disable(NULL);
    CHECK_EQ(atomic_load(&lt_state), LT_DISABLED);
    lt_disable(NULL);
    CHECK_EQ(atomic_load(&lt_state), LT_DISABLED);
    uint64_t position = ring_position();
    lt_replacement_free(lt_replacement_malloc(16));
    lt_shutdown(0);
    CHECK_EQ(ring_position(), position);
    lt_test_collector_drain(&collector);
    CHECK_EQ(lt_test_count(&collector, LT_REC_FINAL), 0);
}

static void each_allocation_function_records_its_kind(void) {
    lt_test_collector_listen(&collector);
    uint64_t failures = 0;
    struct {
        void *ptr;
        size_t size;
        uint8_t kind;
    } made[16];
    int n = 0;
#define MADE(expression, size_, kind_)                                                                                 \
    do {                                                                                                               \
        void *p_ = (expression);                                                                                       \
        if (p_ == NULL)                                                                                                \
            failures++;                                                                                                \
        else                                                                                                           \
            made[n++] = (typeof(made[0])){p_, (size_), (kind_)};                                                       \
    } while (0)
    MADE(lt_replacement_malloc(10), 10, LT_KIND_MALLOC);
    MADE(lt_replacement_calloc(3, 7), 21, LT_KIND_CALLOC);
    MADE(lt_replacement_realloc(NULL, 30), 30, LT_KIND_REALLOC);
    MADE(lt_replacement_reallocarray(NULL, 4, 5), 20, LT_KIND_REALLOCARRAY);
    MADE(lt_replacement_aligned_alloc(64, 128), 128, LT_KIND_ALIGNED_ALLOC);
    MADE(lt_replacement_memalign(256, 100), 100, LT_KIND_MEMALIGN);
    MADE(lt_replacement_valloc(50), 50, LT_KIND_VALLOC);
    MADE(lt_replacement_pvalloc(60), 60, LT_KIND_PVALLOC);
    void *aligned = NULL;
    CHECK_EQ(lt_replacement_posix_memalign(&aligned, 32, 70), 0);
    made[n++] = (typeof(made[0])){aligned, 70, LT_KIND_POSIX_MEMALIGN};
    /* Calls that fail: counted in FINAL, no ALLOC. */
    MADE(lt_replacement_calloc(SIZE_MAX / 2, 4), 0, 0);
    MADE(lt_replacement_malloc(SIZE_MAX - 4096), 0, 0);
    CHECK_EQ(failures, 2);
    lt_test_collector_accept(&collector);
    lt_test_collector_drain(&collector);
    CHECK_EQ(lt_test_count(&collector, LT_REC_ALLOC), (size_t)n);
    for (int i = 0; i < n; i++) {
        struct lt_alloc alloc = alloc_of(made[i].ptr);
        CHECK_EQ(alloc.size, made[i].size);
        CHECK_EQ(alloc.kind, made[i].kind);
        CHECK(alloc.stack != LT_NO_STACK && alloc.stack != LT_DROPPED_STACK, "allocation %d has no stack", i);
    }

    /* realloc: REALLOC_BEGIN before the call, REALLOC_END after it, tied by the begin record's tag. */
    void *moved = lt_replacement_realloc(made[0].ptr, 100000);
    CHECK(moved != NULL, "realloc failed");
    lt_test_collector_drain(&collector);
    struct lt_free begin;
    struct lt_realloc_end end;
    struct lt_test_record begin_record = last(LT_REC_REALLOC_BEGIN);
    LT_TEST_AS(begin_record, LT_REC_REALLOC_BEGIN, begin);
    LT_TEST_AS(lt_test_record_at(&collector, collector.records - 1), LT_REC_REALLOC_END, end);
    CHECK_EQ(begin.ptr, (uintptr_t)made[0].ptr);
    CHECK_EQ(end.begin_tag, begin_record.tag);
    CHECK_EQ(end.new_ptr, (uintptr_t)moved);
    CHECK_EQ(end.size, 100000);
    CHECK_EQ(end.status, LT_REALLOC_DONE);
    CHECK_EQ(end.kind, LT_KIND_REALLOC);

    /* A realloc that fails leaves the old block live: FAILED, and counted. */
    void *kept = lt_replacement_realloc(made[1].ptr, SIZE_MAX - 4096);
    CHECK(kept == NULL, "an impossible realloc succeeded");
    failures++;
    lt_test_collector_drain(&collector);
    LT_TEST_AS(lt_test_record_at(&collector, collector.records - 1), LT_REC_REALLOC_END, end);
    CHECK_EQ(end.status, LT_REALLOC_FAILED);
    CHECK_EQ(end.new_ptr, 0);
    CHECK_EQ(end.size, 0);

    /* realloc(p, 0) frees. */
    CHECK(lt_replacement_realloc(made[2].ptr, 0) == NULL, "realloc(p, 0) returned a block");
    lt_test_collector_drain(&collector);
    LT_TEST_AS(lt_test_record_at(&collector, collector.records - 1), LT_REC_REALLOC_END, end);
    CHECK_EQ(end.status, LT_REALLOC_DONE);
    CHECK_EQ(end.new_ptr, 0);

    struct lt_final final = shut_down(0);
    CHECK_EQ(final.failed_allocs, failures);
    CHECK_EQ(final.stacks_dropped, 0);
}

static void fork_child_streams_on_its_own_connection(void) {
    lt_test_collector_listen(&collector);
    lt_replacement_free(lt_replacement_malloc(16));
    lt_test_collector_accept(&collector);
    pid_t child = fork();
    CHECK(child >= 0, "fork: %s", strerror(errno));
    if (child == 0) {
        /* A stream of its own: a fresh stack table, its own ring. */
        void *p = allocate_here(77);
        if (atomic_load(&lt_state) != LT_ENABLED || p == NULL) _exit(2);
        lt_shutdown_without_waiting(9);
        _exit(0);
    }
    int status;
    CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child failed");

    static struct lt_test_collector forked;
    memset(&forked, 0, sizeof forked);
    forked.listener = collector.listener;
    forked.connection = -1;
    lt_test_collector_accept(&forked);
    struct lt_hello hello;
    memcpy(&hello, forked.hello, sizeof hello);
    CHECK_EQ(hello.pid, child);
    CHECK_EQ(hello.ppid, getpid());
    CHECK_EQ(hello.flags & LT_HELLO_FORKED, LT_HELLO_FORKED);
    lt_test_collector_drain(&forked);
    size_t at = lt_test_find(&forked, LT_REC_ALLOC, 0);
    CHECK(at != SIZE_MAX, "no ALLOC in the child's stream");
    struct lt_alloc alloc;
    LT_TEST_AS(lt_test_record_at(&forked, at), LT_REC_ALLOC, alloc);
    CHECK_EQ(alloc.size, 77);
    CHECK_EQ(alloc.stack, 1);
    struct lt_final final;
    LT_TEST_AS(lt_test_record_at(&forked, forked.records - 1), LT_REC_FINAL, final);
    CHECK_EQ(final.exit_status, 9);

    /* Nothing of the child's in the parent's stream. */
    lt_test_collector_drain(&collector);
    for (size_t i = 0; (i = lt_test_find(&collector, LT_REC_ALLOC, i)) != SIZE_MAX; i++) {
        LT_TEST_AS(lt_test_record_at(&collector, i), LT_REC_ALLOC, alloc);
        CHECK(alloc.size != 77, "the child's allocation is in the parent's stream");
    }
    CHECK_EQ(atomic_load(&lt_state), LT_ENABLED);
}

/* The THREAD record of `ordinal` in `c`'s records: there is exactly one, and it comes before `before`. */
static struct lt_thread thread_record(const struct lt_test_collector *c, uint32_t ordinal, size_t before) {
    struct lt_thread found = {0}, thread;
    size_t seen = 0, at = SIZE_MAX;
    for (size_t i = 0; (i = lt_test_find(c, LT_REC_THREAD, i)) != SIZE_MAX; i++) {
        LT_TEST_AS(lt_test_record_at(c, i), LT_REC_THREAD, thread);
        if (thread.ordinal != ordinal) continue;
        found = thread;
        seen++;
        at = i;
    }
    CHECK_EQ(seen, 1);
    CHECK(at < before, "the THREAD record of %u (record %zu) is not before record %zu", ordinal, at, before);
    return found;
}

/* The index of the ALLOC record of `ptr` in `c`'s records. */
static size_t alloc_index(const struct lt_test_collector *c, const void *ptr) {
    struct lt_alloc alloc;
    for (size_t i = 0; (i = lt_test_find(c, LT_REC_ALLOC, i)) != SIZE_MAX; i++) {
        LT_TEST_AS(lt_test_record_at(c, i), LT_REC_ALLOC, alloc);
        if (alloc.ptr == (uintptr_t)ptr) return i;
    }
    lt_test_fail(__FILE__, __LINE__, "no ALLOC record of %p", ptr);
}

/* What a thread of the test did, for the checks. */
struct worker {
    const char *name;
    pid_t tid;
    void *first, *second, *grown;
};

static void *work(void *argument) {
    struct worker *w = argument;
    CHECK(pthread_setname_np(pthread_self(), w->name) == 0, "pthread_setname_np");
    w->tid = (pid_t)syscall(SYS_gettid);
    w->first = allocate_here(100);
    w->second = allocate_elsewhere(200);
    w->grown = lt_replacement_realloc(w->second, 300);
    CHECK(w->first != NULL && w->grown != NULL, "allocation failed");
    return NULL;
}

static void threads_are_numbered_and_named_once(void) {
    lt_test_collector_listen(&collector);
    struct worker workers[3] = {{.name = "lt-main"}, {.name = "lt-worker-one"}, {.name = "lt-worker-two"}};
    work(&workers[0]); /* this thread first: ordinal 1 */
    for (int i = 1; i < 3; i++) {
        pthread_t thread;
        CHECK(pthread_create(&thread, NULL, work, &workers[i]) == 0, "pthread_create");
        pthread_join(thread, NULL);
    }
    lt_test_collector_accept(&collector);
    lt_test_collector_drain(&collector);
    CHECK_EQ(lt_test_count(&collector, LT_REC_THREAD), 3);
    for (uint32_t ordinal = 1; ordinal <= 3; ordinal++) {
        const struct worker *w = &workers[ordinal - 1];
        size_t first = alloc_index(&collector, w->first);
        struct lt_thread thread = thread_record(&collector, ordinal, first);
        CHECK_EQ(thread.tid, w->tid);
        CHECK(strncmp(thread.name, w->name, sizeof thread.name) == 0, "thread %u is named %.16s, not %s", ordinal,
              thread.name, w->name);
        for (size_t i = strlen(w->name); i < sizeof thread.name; i++) CHECK_EQ(thread.name[i], 0);
        struct lt_alloc alloc;
        LT_TEST_AS(lt_test_record_at(&collector, first), LT_REC_ALLOC, alloc);
        CHECK_EQ(alloc.thread, ordinal);
        CHECK_EQ(alloc_of(w->second).thread, ordinal);
    }
    /* Each thread's realloc: REALLOC_END carries the ordinal too, in the order the threads ran. */
    uint32_t ordinal = 0;
    for (size_t i = 0; (i = lt_test_find(&collector, LT_REC_REALLOC_END, i)) != SIZE_MAX; i++) {
        struct lt_realloc_end end;
        LT_TEST_AS(lt_test_record_at(&collector, i), LT_REC_REALLOC_END, end);
        CHECK_EQ(end.new_ptr, (uintptr_t)workers[ordinal].grown);
        CHECK_EQ(end.thread, ++ordinal);
    }
    CHECK_EQ(ordinal, 3);
    for (int i = 0; i < 3; i++) {
        lt_replacement_free(workers[i].first);
        lt_replacement_free(workers[i].grown);
    }
    shut_down(0);
    CHECK_EQ(lt_test_count(&collector, LT_REC_THREAD), 3);

    /* For preload/tests/run: the collector takes a stream with THREAD records. */
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/threads.raw", lt_test_dir());
    lt_test_collector_save(&collector, path);
    snprintf(path, sizeof path, "%s/threads.expect", lt_test_dir());
    FILE *expect = fopen(path, "w");
    CHECK(expect != NULL, "%s: %s", path, strerror(errno));
    fprintf(expect, "allocations=9 frees=9\n");
    CHECK(fclose(expect) == 0, "close %s", path);
}

/* Forks from a thread that has ordinal 2 in the parent's stream. */
static void *fork_from_a_thread(void *argument) {
    CHECK(pthread_setname_np(pthread_self(), "lt-forker") == 0, "pthread_setname_np");
    lt_replacement_free(allocate_here(11));
    pid_t child = fork();
    if (child == 0) {
        /* The child's stream numbers its threads afresh: this thread is 1 there. */
        void *p = allocate_here(77);
        if (atomic_load(&lt_state) != LT_ENABLED || p == NULL) _exit(2);
        lt_shutdown_without_waiting(9);
        _exit(0);
    }
    *(pid_t *)argument = child;
    return NULL;
}

static void a_fork_child_numbers_its_threads_afresh(void) {
    lt_test_collector_listen(&collector);
    lt_replacement_free(allocate_here(16)); /* this thread: ordinal 1 */
    lt_test_collector_accept(&collector);
    pid_t child = -1;
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, fork_from_a_thread, &child) == 0, "pthread_create");
    pthread_join(thread, NULL);
    CHECK(child > 0, "fork: %s", strerror(errno));
    int status;
    CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child failed");
    lt_test_collector_drain(&collector);
    CHECK_EQ(lt_test_count(&collector, LT_REC_THREAD), 2);
    CHECK(strcmp(thread_record(&collector, 2, collector.records).name, "lt-forker") == 0, "the forker's name");

    static struct lt_test_collector forked;
    memset(&forked, 0, sizeof forked);
    forked.listener = collector.listener;
    forked.connection = -1;
    lt_test_collector_accept(&forked);
    lt_test_collector_drain(&forked);
    CHECK_EQ(lt_test_count(&forked, LT_REC_THREAD), 1);
    size_t at = lt_test_find(&forked, LT_REC_ALLOC, 0);
    CHECK(at != SIZE_MAX, "no ALLOC in the child's stream");
    struct lt_alloc alloc;
    LT_TEST_AS(lt_test_record_at(&forked, at), LT_REC_ALLOC, alloc);
    CHECK_EQ(alloc.size, 77);
    CHECK_EQ(alloc.thread, 1);
    struct lt_thread named = thread_record(&forked, 1, at);
    CHECK_EQ(named.tid, child); /* the child's one thread: its tid is its pid */
    CHECK(strcmp(named.name, "lt-forker") == 0, "the child's thread is named %.16s", named.name);
}

static void a_fork_without_handlers_writes_nothing(void) {
    lt_test_collector_listen(&collector);
    lt_replacement_free(lt_replacement_malloc(16));
    lt_test_collector_accept(&collector);
    uint64_t position = ring_position();
    /* A raw clone system call runs no atfork handler: the child's state page is wiped (MADV_WIPEONFORK). */
    pid_t child = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    CHECK(child >= 0, "fork: %s", strerror(errno));
    if (child == 0) {
        void *p = lt_replacement_malloc(99);
        lt_replacement_free(p);
        _exit(p != NULL && atomic_load(&lt_state) == LT_DISABLED ? 0 : 2);
    }
    int status;
    CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "the child was not left untracked");
    CHECK_EQ(ring_position(), position);
    CHECK_EQ(atomic_load(&lt_state), LT_ENABLED);
}

TESTS(TEST(first_hook_starts_tracking), TEST(leaktrack_disable_leaves_the_program_untracked),
      TEST(lt_disable_stops_recording_without_final), TEST(each_allocation_function_records_its_kind),
      TEST(fork_child_streams_on_its_own_connection), TEST(threads_are_numbered_and_named_once),
      TEST(a_fork_child_numbers_its_threads_afresh), TEST(a_fork_without_handlers_writes_nothing))
