/*
 * What the shim's C unit tests share: checks, a runner that gives every test a process of its own (the
 * shim's lifecycle happens once per process), and a small collector.
 *
 * The tests link against libleaktrack-testing.so (scripts/build-preload --testing): the shim's code built with
 * LT_TESTING, which interposes nothing, so a test calls the lt_replacement_* functions itself and everything
 * else in the test program uses the C library's allocator. Tracking starts at the first hook call (there is
 * no constructor in the testing build) and ends when a test calls lt_shutdown.
 *
 * The collector here does what the real one does, reading only what leaktrack_wire.h defines: it listens on
 * a socket named by LEAKTRACK_SOCKET, receives HELLO with the ring's memfd, maps that memfd itself, answers
 * LT_ACK_HELLO, checks every record's position tag while it copies the records out, and answers LT_ACK_DONE
 * once it has read FINAL. A test then looks at the records it kept, or writes the stream (HELLO, then the
 * records) to a file for `leaktrack collect --input`.
 */
#ifndef LT_TEST_H
#define LT_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "leaktrack_wire.h"

#define LT_TEST_NOINLINE __attribute__((noinline))

/* ---------------------------------------------------------------------------------------------------- */
/* checks */

static const char *lt_test_current = "?";

static __attribute__((unused)) void lt_test_fail(const char *file, int line, const char *format, ...)
    __attribute__((noreturn, format(printf, 3, 4)));
static __attribute__((unused)) void lt_test_fail(const char *file, int line, const char *format, ...) {
    fprintf(stderr, "%s:%d: %s: ", file, line, lt_test_current);
    va_list args;
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fputc('\n', stderr);
    fflush(stderr);
    _exit(1);
}

#define CHECK(condition, ...)                                                                                          \
    do {                                                                                                               \
        if (!(condition)) lt_test_fail(__FILE__, __LINE__, "CHECK(" #condition ") failed: " __VA_ARGS__);              \
    } while (0)

#define CHECK_EQ(actual, expected)                                                                                     \
    do {                                                                                                               \
        unsigned long long lt_a = (unsigned long long)(actual), lt_e = (unsigned long long)(expected);                 \
        if (lt_a != lt_e)                                                                                              \
            lt_test_fail(__FILE__, __LINE__, "%s is %llu (0x%llx), expected %s = %llu (0x%llx)", #actual, lt_a, lt_a,  \
                         #expected, lt_e, lt_e);                                                                       \
    } while (0)

/* ---------------------------------------------------------------------------------------------------- */
/* the runner: every test in a process of its own */

struct lt_test_case {
    const char *name;
    void (*run)(void);
};

#define TEST(function)                                                                                                 \
    { #function, function }

/* Defines main: runs each test in a forked child (before the shim has started in this process) and reports
 * "ok NAME" or "FAIL NAME"; exits 1 if any failed. With an argument, runs only the test of that name. */
#define TESTS(...)                                                                                                     \
    static const struct lt_test_case lt_test_cases[] = {__VA_ARGS__};                                                  \
    int main(int argc, char **argv) {                                                                                  \
        return lt_test_main(lt_test_cases, sizeof lt_test_cases / sizeof lt_test_cases[0], argc, argv);                \
    }

static __attribute__((unused)) int lt_test_main(const struct lt_test_case *cases, size_t count, int argc, char **argv) {
    int failed = 0, ran = 0;
    for (size_t i = 0; i < count; i++) {
        if (argc > 1 && strcmp(argv[1], cases[i].name) != 0) continue;
        ran++;
        fflush(stdout);
        pid_t child = fork();
        if (child < 0) {
            perror("fork");
            return 1;
        }
        if (child == 0) {
            lt_test_current = cases[i].name;
            cases[i].run();
            fflush(stdout);
            _exit(0);
        }
        int status;
        while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            printf("ok %s\n", cases[i].name);
        } else {
            if (WIFSIGNALED(status)) fprintf(stderr, "%s: died of signal %d\n", cases[i].name, WTERMSIG(status));
            printf("FAIL %s\n", cases[i].name);
            failed++;
        }
    }
    if (ran == 0) {
        fprintf(stderr, "no test named %s\n", argc > 1 ? argv[1] : "(none)");
        return 1;
    }
    return failed ? 1 : 0;
}

/* Where a test may write files: $LT_TEST_DIR (set by preload/tests/run), else /tmp. */
static __attribute__((unused)) const char *lt_test_dir(void) {
    const char *dir = getenv("LT_TEST_DIR");
    return dir != NULL && dir[0] != '\0' ? dir : "/tmp";
}

/* ---------------------------------------------------------------------------------------------------- */
/* records as the collector receives them */

/* One record, copied out of the ring: `words[0]` is its header. */
struct lt_test_record {
    uint32_t type;
    uint32_t count; /* words, header included */
    uint64_t tag;
    const uint64_t *words;
};

/* Reads the record of `type` at `words` into the wire struct `out` of `size` bytes, checking its length. */
#define LT_TEST_AS(record, type_, out)                                                                                 \
    do {                                                                                                               \
        CHECK_EQ((record).type, type_);                                                                                \
        CHECK((record).count * 8u >= sizeof(out), "a record of type %u has %u words", (record).type, (record).count);  \
        memcpy(&(out), (record).words, sizeof(out));                                                                   \
    } while (0)

/* ---------------------------------------------------------------------------------------------------- */
/* the collector */

struct lt_test_collector {
    char dir[PATH_MAX];
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    int listener;
    int connection;
    /* HELLO as received, with the memfd that came with it. */
    uint64_t hello[LT_MAX_RECORD_WORDS];
    uint32_t hello_words;
    int ring_fd;
    /* Our own mapping of the ring. */
    unsigned char *map;
    size_t map_size;
    uint64_t mask;
    /* The records read so far, one after another, and where each starts. */
    uint64_t *words;
    size_t used, capacity;
    size_t *starts;
    size_t records, starts_capacity;
    uint64_t position; /* the next ring position to read */
    int saw_final;
    pthread_t thread;
    int serving;
};

/* Listens on a new socket in a private directory and names it in LEAKTRACK_SOCKET, for the shim to connect to
 * when it starts. */
static __attribute__((unused)) void lt_test_collector_listen(struct lt_test_collector *c) {
    memset(c, 0, sizeof *c);
    c->listener = c->connection = c->ring_fd = -1;
    snprintf(c->dir, sizeof c->dir, "%s/collector-XXXXXX", lt_test_dir());
    CHECK(mkdtemp(c->dir) != NULL, "mkdtemp %s: %s", c->dir, strerror(errno));
    int length = snprintf(c->path, sizeof c->path, "%s/socket", c->dir);
    CHECK(length > 0 && (size_t)length < sizeof c->path, "socket path too long: %s", c->dir);
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    memcpy(address.sun_path, c->path, strlen(c->path) + 1);
    c->listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(c->listener >= 0, "socket: %s", strerror(errno));
    CHECK(bind(c->listener, (struct sockaddr *)&address, sizeof address) == 0, "bind: %s", strerror(errno));
    CHECK(listen(c->listener, 16) == 0, "listen: %s", strerror(errno));
    int on = 1;
    setsockopt(c->listener, SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
    setenv("LEAKTRACK_SOCKET", c->path, 1);
    setenv("LEAKTRACK_QUIET", "1", 1);
}

/* Whether a connection waits in the listener's queue (the shim connects while it starts). */
static __attribute__((unused)) int lt_test_collector_pending(struct lt_test_collector *c) {
    int flags = fcntl(c->listener, F_GETFL);
    fcntl(c->listener, F_SETFL, flags | O_NONBLOCK);
    int fd = accept4(c->listener, NULL, NULL, SOCK_CLOEXEC);
    fcntl(c->listener, F_SETFL, flags);
    if (fd < 0) return 0;
    c->connection = fd;
    return 1;
}

/* Accepts the shim's connection (unless lt_test_collector_pending already did), receives HELLO and the memfd
 * that comes with it, maps the ring as the collector does and answers LT_ACK_HELLO. */
static __attribute__((unused)) void lt_test_collector_accept(struct lt_test_collector *c) {
    if (c->connection < 0) {
        c->connection = accept4(c->listener, NULL, NULL, SOCK_CLOEXEC);
        CHECK(c->connection >= 0, "accept: %s", strerror(errno));
    }
    size_t got = 0;
    unsigned char *bytes = (unsigned char *)c->hello;
    for (;;) {
        union {
            char buffer[CMSG_SPACE(sizeof(int) * 4) + CMSG_SPACE(sizeof(struct ucred))];
            struct cmsghdr align;
        } control;
        struct iovec iov = {.iov_base = bytes + got, .iov_len = sizeof c->hello - got};
        struct msghdr msg = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buffer, .msg_controllen = sizeof control.buffer};
        ssize_t n = recvmsg(c->connection, &msg, MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR) continue;
        CHECK(n > 0, "the connection ended after %zu bytes, before HELLO was whole", got);
        for (struct cmsghdr *m = CMSG_FIRSTHDR(&msg); m != NULL; m = CMSG_NXTHDR(&msg, m)) {
            if (m->cmsg_level == SOL_SOCKET && m->cmsg_type == SCM_RIGHTS)
                memcpy(&c->ring_fd, CMSG_DATA(m), sizeof(int));
        }
        got += (size_t)n;
        if (got >= 8 && got >= (size_t)lt_header_words(c->hello[0]) * 8) break;
    }
    c->hello_words = lt_header_words(c->hello[0]);
    CHECK_EQ(got, c->hello_words * 8u);
    CHECK_EQ(lt_header_type(c->hello[0]), LT_REC_HELLO);
    CHECK(c->ring_fd >= 0, "HELLO came without the ring's memfd");
    struct lt_hello hello;
    memcpy(&hello, c->hello, sizeof hello);
    c->mask = (UINT64_C(1) << hello.ring_log2) - 1;
    c->map_size = LT_RING_HEADER_BYTES + (size_t)(c->mask + 1) * 8;
    void *map = mmap(NULL, c->map_size, PROT_READ | PROT_WRITE, MAP_SHARED, c->ring_fd, 0);
    CHECK(map != MAP_FAILED, "mmap of the ring: %s", strerror(errno));
    c->map = map;
    CHECK(memcmp(c->map, LT_RING_MAGIC, sizeof LT_RING_MAGIC) == 0, "the ring's header has no LT_RING_MAGIC");
    __atomic_store_n((uint64_t *)(c->map + LT_RING_OFFSET_COLLECTOR_STATE), (uint64_t)LT_ACK_HELLO, __ATOMIC_RELEASE);
}

static __attribute__((unused)) uint64_t lt_test_ring_word(struct lt_test_collector *c, uint64_t position) {
    return __atomic_load_n((uint64_t *)(c->map + LT_RING_HEADER_BYTES) + (position & c->mask), __ATOMIC_ACQUIRE);
}

/* Copies every published record out of the ring (checking that each carries its position) and releases the
 * space. Returns how many records it read. */
static __attribute__((unused)) size_t lt_test_collector_drain(struct lt_test_collector *c) {
    uint64_t *read = (uint64_t *)(c->map + LT_RING_OFFSET_READ);
    uint64_t *write = (uint64_t *)(c->map + LT_RING_OFFSET_WRITE);
    size_t before = c->records;
    for (;;) {
        uint64_t end = __atomic_load_n(write, __ATOMIC_ACQUIRE);
        if (c->position >= end) break;
        uint64_t header = lt_test_ring_word(c, c->position);
        if (lt_header_tag(header) != (c->position & LT_TAG_MASK) || lt_header_words(header) == 0) break;
        uint32_t count = lt_header_words(header);
        if (c->used + count > c->capacity) {
            c->capacity = (c->used + count) * 2;
            c->words = realloc(c->words, c->capacity * sizeof *c->words);
            CHECK(c->words != NULL, "out of memory");
        }
        if (c->records == c->starts_capacity) {
            c->starts_capacity = c->starts_capacity ? c->starts_capacity * 2 : 256;
            c->starts = realloc(c->starts, c->starts_capacity * sizeof *c->starts);
            CHECK(c->starts != NULL, "out of memory");
        }
        c->starts[c->records++] = c->used;
        for (uint32_t i = 0; i < count; i++) c->words[c->used++] = lt_test_ring_word(c, c->position + i);
        if (lt_header_type(header) == LT_REC_FINAL) c->saw_final = 1;
        c->position += count;
        __atomic_store_n(read, c->position, __ATOMIC_RELEASE);
    }
    return c->records - before;
}

static __attribute__((unused)) struct lt_test_record lt_test_record_at(const struct lt_test_collector *c,
                                                                       size_t index) {
    const uint64_t *words = c->words + c->starts[index];
    struct lt_test_record record = {lt_header_type(words[0]), lt_header_words(words[0]), lt_header_tag(words[0]),
                                    words};
    return record;
}

/* The index of the first record of `type` at or after `from`, or SIZE_MAX. */
static __attribute__((unused)) size_t lt_test_find(const struct lt_test_collector *c, uint32_t type, size_t from) {
    for (size_t i = from; i < c->records; i++)
        if (lt_header_type(c->words[c->starts[i]]) == type) return i;
    return SIZE_MAX;
}

static __attribute__((unused)) size_t lt_test_count(const struct lt_test_collector *c, uint32_t type) {
    size_t n = 0;
    for (size_t i = 0; i < c->records; i++) n += lt_header_type(c->words[c->starts[i]]) == type;
    return n;
}

/* The collector's thread: reads until FINAL, then answers LT_ACK_DONE (and wakes the shim, which waits on
 * that word), as `leaktrack collect` does once the trace is stored. */
static __attribute__((unused)) void *lt_test_collector_serve(void *argument) {
    struct lt_test_collector *c = argument;
    uint64_t *state = (uint64_t *)(c->map + LT_RING_OFFSET_COLLECTOR_STATE);
    for (int idle = 0; !c->saw_final; idle++) {
        CHECK(idle < 20000, "no FINAL within 20 s");
        if (lt_test_collector_drain(c) == 0) usleep(1000);
    }
    __atomic_store_n(state, (uint64_t)LT_ACK_DONE, __ATOMIC_RELEASE);
    syscall(SYS_futex, (uint32_t *)(void *)state, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
    return NULL;
}

/* From now until lt_test_collector_join, the records belong to the collector's thread. */
static __attribute__((unused)) void lt_test_collector_start_serving(struct lt_test_collector *c) {
    CHECK(pthread_create(&c->thread, NULL, lt_test_collector_serve, c) == 0, "pthread_create");
    c->serving = 1;
}

static __attribute__((unused)) void lt_test_collector_join(struct lt_test_collector *c) {
    CHECK(c->serving, "the collector is not serving");
    pthread_join(c->thread, NULL);
    c->serving = 0;
}

/* Writes the stream as the collector received it, HELLO then the records, to `path`. */
static __attribute__((unused)) void lt_test_collector_save(const struct lt_test_collector *c, const char *path) {
    FILE *file = fopen(path, "wb");
    CHECK(file != NULL, "%s: %s", path, strerror(errno));
    CHECK(fwrite(c->hello, 8, c->hello_words, file) == c->hello_words, "write %s", path);
    CHECK(fwrite(c->words, 8, c->used, file) == c->used, "write %s", path);
    CHECK(fclose(file) == 0, "close %s", path);
}

#endif /* LT_TEST_H */
