/* Programs that do what the shim must survive. One mode per run:
 *   hostile steal-fds FILE  closes every descriptor from 3 up (close_range), then puts FILE on every number from
 *                           3 to 1023 (the shim's numbers included), leaks 7 x 100 B in leak_after_close, forks a
 *                           child that leaks 3 x 100 B in child_after_close and writes to descriptors 4 and 900,
 *                           writes to 4 itself, and returns 3 from main. FILE must then hold exactly what the
 *                           program wrote: "child 4\nchild 900\nparent 4\n".
 *   hostile truncate-ring   tries to truncate the shim's event ring (found in /proc/self/maps) to 0 bytes,
 *                           prints "refused" or "truncated", then leaks 5 x 50 B in leak_after_truncate
 *   hostile signal-leaks N  a SIGALRM handler leaks 24 B each time (leak_in_handler) while the main loop
 *                           allocates and frees, until the handler has run N times; prints N
 *   hostile forks N         forks N children that exit at once without allocating
 *   hostile return N        returns N from main after leaking 8 B in leak_before_return
 *   hostile quick-exit N    the same, leaving through quick_exit(N) (no destructors run)
 *   hostile pthread-exit    leaks 8 B in leak_before_return, then ends main with pthread_exit (exit status 0)
 *   hostile underscore-fork leaks 5 x 1000 B in parent_leaks; a child made with _Fork (no fork handlers) frees
 *                           them and leaks 7 x 77 B of its own: the parent's trace must still show its 5
 *   hostile forge-record    a forked sibling leaks 3 x 123 B in sibling_leaks; the parent publishes, in its own
 *                           ring, a record header longer than the ring (run with LEAKTRACK_BUFFER_SIZE=64K)
 *   hostile fd-churn        lowers its descriptor limit to 64, uses all but one descriptor, then for a second
 *                           opens and closes a file: prints how many opens failed or got another number
 *   hostile concurrent N    N children alive at once, each leaking 16 B in concurrent_leak
 *   hostile deep N          leaks 32 B in deep_leak at the bottom of N recursive calls of descend */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

void *volatile kept[200000];

__attribute__((noinline)) static void leak_after_close(int i) { kept[i] = malloc(100); }
__attribute__((noinline)) static void child_after_close(int i) { kept[100 + i] = malloc(100); }
__attribute__((noinline)) static void leak_after_truncate(int i) { kept[i] = malloc(50); }
__attribute__((noinline)) static void leak_before_return(void) { kept[0] = malloc(8); }
__attribute__((noinline)) static void parent_leaks(int i) { kept[i] = malloc(1000); }
__attribute__((noinline)) static void fork_child_leaks(int i) { kept[10 + i] = malloc(77); }
__attribute__((noinline)) static void sibling_leaks(int i) { kept[i] = malloc(123); }
__attribute__((noinline)) static void concurrent_leak(void) { kept[0] = malloc(16); }

extern pid_t _Fork(void);

__attribute__((noinline)) static void deep_leak(void) { kept[0] = malloc(32); }
__attribute__((noinline)) static int descend(int n) {
    if (n == 0) {
        deep_leak();
        return 0;
    }
    return descend(n - 1) + 1; /* not a tail call: every level keeps its frame */
}

static int underscore_fork(void) {
    for (int i = 0; i < 5; i++) parent_leaks(i);
    pid_t child = _Fork();
    if (child == 0) {
        for (int i = 0; i < 7; i++) fork_child_leaks(i);
        for (int i = 0; i < 5; i++) free(kept[i]);
        _exit(0);
    }
    waitpid(child, NULL, 0);
    return 0;
}

/* The ring's mapping, from /proc/self/maps. */
static unsigned char *find_ring(size_t *size) {
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[512];
    unsigned long lo, hi;
    unsigned char *ring = NULL;
    while (maps && fgets(line, sizeof line, maps))
        if (strstr(line, "memfd:leaktrack-ring") && sscanf(line, "%lx-%lx", &lo, &hi) == 2) {
            ring = (unsigned char *)lo;
            *size = hi - lo;
        }
    if (maps) fclose(maps);
    return ring;
}

static int forge_record(void) {
    pid_t child = fork();
    if (child == 0) {
        for (int i = 0; i < 3; i++) sibling_leaks(i);
        usleep(500000);
        return 0;
    }
    usleep(100000);
    size_t size = 0;
    unsigned char *ring = find_ring(&size);
    if (ring == NULL) return 40;
    uint64_t mask = (size - 4096) / 8 - 1;
    _Atomic uint64_t *write_position = (_Atomic uint64_t *)(ring + 64);
    uint64_t *words = (uint64_t *)(ring + 4096);
    uint64_t at = *write_position;
    words[at & mask] = 10u | ((uint64_t)65535 << 8) | ((at & ((1ull << 40) - 1)) << 24); /* a TICK of 65535 words */
    *write_position = at + 65535;
    int status;
    waitpid(child, &status, 0);
    return 0;
}

static int fd_churn(void) {
    struct rlimit limit = {64, 64};
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) return 50;
    int fd;
    while ((fd = open("/dev/null", O_RDONLY)) >= 0) {}
    if (errno != EMFILE) return 51;
    close(10);
    long failed = 0;
    for (struct timespec start, now; clock_gettime(CLOCK_MONOTONIC, &start) == 0;) {
        for (int round = 0; round < 200000; round++) {
            fd = open("/dev/null", O_RDONLY);
            if (fd != 10) failed++;
            if (fd >= 0) close(fd);
            if (round % 1000 == 0) {
                clock_gettime(CLOCK_MONOTONIC, &now);
                if (now.tv_sec - start.tv_sec >= 1) break;
            }
        }
        break;
    }
    printf("%ld\n", failed);
    return 0;
}

static int concurrent(int count) {
    int gate[2];
    if (pipe(gate) != 0) return 60;
    for (int i = 0; i < count; i++) {
        pid_t child = fork();
        if (child == 0) {
            close(gate[1]);
            concurrent_leak();
            char c;
            (void)read(gate[0], &c, 1);
            _exit(0);
        }
        if (child < 0) return 61;
    }
    close(gate[0]);
    usleep(300000);
    close(gate[1]);
    while (wait(NULL) > 0) {}
    return 0;
}

static int write_text(int fd, const char *text) {
    return write(fd, text, strlen(text)) == (ssize_t)strlen(text) ? 0 : 1;
}

static int steal_fds(const char *file) {
    close_range(3, ~0U, 0);
    int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    if (fd != 3) return 10;
    for (int n = 4; n < 1024; n++) dup2(fd, n);
    for (int i = 0; i < 7; i++) leak_after_close(i);
    pid_t child = fork();
    if (child == 0) {
        for (int i = 0; i < 3; i++) child_after_close(i);
        int failed = write_text(4, "child 4\n") | write_text(900, "child 900\n");
        exit(failed ? 11 : 0);
    }
    int status = 0;
    waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return 12;
    if (write_text(4, "parent 4\n") != 0) return 13;
    return 3;
}

static int truncate_ring(void) {
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[512], range[128] = "";
    while (maps && fgets(line, sizeof line, maps)) {
        if (strstr(line, "memfd:leaktrack-ring") == NULL) continue;
        sscanf(line, "%127s", range);
        break;
    }
    if (maps) fclose(maps);
    if (range[0] == '\0') return 20;
    char path[256];
    snprintf(path, sizeof path, "/proc/self/map_files/%s", range);
    int fd = open(path, O_RDWR);
    if (fd < 0) return 21;
    int rc = ftruncate(fd, 0);
    printf("%s\n", rc == 0 ? "truncated" : errno == EPERM ? "refused" : "failed");
    fflush(stdout);
    close(fd);
    for (int i = 0; i < 5; i++) leak_after_truncate(i);
    usleep(200000); /* the collector reads while we run */
    return 0;
}

static volatile sig_atomic_t handled, wanted;

/* Leaks exactly `wanted` blocks, however often the timer fires before it is switched off. */
__attribute__((noinline)) static void leak_in_handler(int signal_number) {
    (void)signal_number;
    if (handled < wanted && handled < 200000) kept[handled++] = malloc(24);
}

static int signal_leaks(int count) {
    wanted = count;
    struct sigaction action = {0};
    action.sa_handler = leak_in_handler;
    sigaction(SIGALRM, &action, NULL);
    struct itimerval timer = {{0, 200}, {0, 200}};
    setitimer(ITIMER_REAL, &timer, NULL);
    while (handled < wanted) {
        void *p = malloc(64);
        free(p);
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    printf("%d\n", (int)handled);
    return 0;
}

static int forks(int count) {
    for (int i = 0; i < count; i++) {
        pid_t child = fork();
        if (child == 0) _exit(0);
        if (child < 0) return 30;
        waitpid(child, NULL, 0);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    if (strcmp(argv[1], "steal-fds") == 0 && argc > 2) return steal_fds(argv[2]);
    if (strcmp(argv[1], "truncate-ring") == 0) return truncate_ring();
    if (strcmp(argv[1], "signal-leaks") == 0 && argc > 2) return signal_leaks(atoi(argv[2]));
    if (strcmp(argv[1], "forks") == 0 && argc > 2) return forks(atoi(argv[2]));
    if (strcmp(argv[1], "pthread-exit") == 0) {
        leak_before_return();
        pthread_exit(NULL);
    }
    if (strcmp(argv[1], "underscore-fork") == 0) return underscore_fork();
    if (strcmp(argv[1], "forge-record") == 0) return forge_record();
    if (strcmp(argv[1], "fd-churn") == 0) return fd_churn();
    if (strcmp(argv[1], "concurrent") == 0 && argc > 2) return concurrent(atoi(argv[2]));
    if (strcmp(argv[1], "deep") == 0 && argc > 2) return descend(atoi(argv[2])) == atoi(argv[2]) ? 0 : 70;
    if (strcmp(argv[1], "quick-exit") == 0 && argc > 2) {
        leak_before_return();
        quick_exit(atoi(argv[2]));
    }
    if (strcmp(argv[1], "return") == 0 && argc > 2) {
        leak_before_return();
        return atoi(argv[2]);
    }
    return 2;
}
