/* Compiled together with preload/lt_unwind.c (no preloading): the fast unwinder must give exactly
 * unw_backtrace's frames on every stack shape below, and must not decline the ordinary ones. Built with
 * -fno-omit-frame-pointer and -DWITH_FRAME_POINTERS, it also checks the walk that starts from a given frame
 * (as the shim's hooks use it).
 * Prints "unwind: N stacks compared, M declined" and exits 0, or names the first difference and exits 1. */
#define UNW_LOCAL_ONLY
#include <alloca.h>
#include <libunwind.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int lt_unwind_init(void);
int lt_unwind_backtrace(const void *frame, void **frames, int max);
void lt_unwind_forget(void);

#define NOINLINE   __attribute__((noinline))
#define MAX_FRAMES 600

static int compared, declined, failed;

/* Both unwinders from the same frame: only their first entries (return addresses inside this function)
 * differ; everything above must be identical. */
static NOINLINE void compare(const char *shape, int may_decline) {
    static __thread void *fast[MAX_FRAMES], *reference[MAX_FRAMES];
    int got = lt_unwind_backtrace(NULL, fast, MAX_FRAMES);
    int want = unw_backtrace(reference, MAX_FRAMES);
    compared++;
#ifdef WITH_FRAME_POINTERS
    /* From this function's frame: its caller's return address first, i.e. libunwind's frames from #1 on. */
    static __thread void *from_frame[MAX_FRAMES];
    int above = lt_unwind_backtrace(__builtin_frame_address(0), from_frame, MAX_FRAMES);
    if (above < 0 ? !may_decline
                  : above != want - 1 || memcmp(from_frame, reference + 1, sizeof(void *) * (size_t)above) != 0) {
        printf("unwind: %s: from the frame: %d frames, libunwind %d\n", shape, above, want - 1);
        failed = 1;
    }
#endif
    if (got < 0) {
        declined++;
        if (!may_decline) {
            printf("unwind: %s: the fast unwinder declined an ordinary stack\n", shape);
            failed = 1;
        }
        return;
    }
    if (got != want || memcmp(fast + 1, reference + 1, sizeof(void *) * (size_t)(got - 1)) != 0) {
        printf("unwind: %s: %d frames, libunwind %d\n", shape, got, want);
        for (int i = 0; i < (got > want ? got : want) && i < 40; i++)
            printf("  #%d %p %p\n", i, i < got ? fast[i] : NULL, i < want ? reference[i] : NULL);
        failed = 1;
    }
}

static NOINLINE int recurse(int depth, const char *shape) {
    if (depth == 0) {
        compare(shape, 0);
        return 0;
    }
    int r = recurse(depth - 1, shape);
    __asm__ volatile("" ::: "memory");
    return r + 1;
}

/* A variable-size frame: the CFA is defined from RBP. */
static NOINLINE int with_alloca(int n, int depth) {
    char *buffer = alloca((size_t)n);
    memset(buffer, 1, (size_t)n);
    int r = recurse(depth, "alloca frame");
    __asm__ volatile("" : : "r"(buffer) : "memory");
    return r + buffer[n - 1];
}

/* A large fixed frame. */
static NOINLINE int with_big_frame(int depth) {
    volatile char buffer[200000];
    buffer[0] = 1;
    buffer[sizeof buffer - 1] = 2;
    return recurse(depth, "large frame") + buffer[0];
}

static int by_value(const void *a, const void *b) {
    static int once;
    if (!once) {
        once = 1;
        compare("qsort callback (libc frames)", 0);
    }
    return *(const int *)a - *(const int *)b;
}

static void *thread_main(void *arg) {
    (void)arg;
    for (int depth = 0; depth < 30; depth += 7) recurse(depth, "other thread");
    return NULL;
}

static void on_signal(int signal) {
    (void)signal;
    compare("signal handler", 1); /* libunwind's territory: the fast unwinder may decline */
}

int main(void) {
    if (lt_unwind_init() != 0) {
        puts("unwind: cannot map the rule cache");
        return 1;
    }
    for (int round = 0; round < 2; round++) { /* the second round runs on cached rules */
        for (int depth = 0; depth <= 500; depth += depth < 20 ? 1 : 37) recurse(depth, "recursion");
        with_alloca(100, 3);
        with_alloca(5000, 0);
        with_big_frame(2);
        int values[64];
        for (int i = 0; i < 64; i++) values[i] = (i * 37) % 64;
        qsort(values, 64, sizeof values[0], by_value);
        pthread_t thread;
        pthread_create(&thread, NULL, thread_main, NULL);
        pthread_join(thread, NULL);
        signal(SIGUSR1, on_signal);
        raise(SIGUSR1);
        lt_unwind_forget();
    }
    printf("unwind: %d stacks compared, %d declined\n", compared, declined);
    return failed;
}
