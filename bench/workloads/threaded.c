/* The churn in 4 threads; a quarter of the blocks are freed by the next thread (cross-thread frees). */
#include <pthread.h>
#include <stdatomic.h>
#include "common.h"

#define THREADS 4
#define HANDOFF 1024
static _Atomic(void *) handoff[THREADS][HANDOFF];
static long per_thread;

NOINLINE void *descend(int depth, size_t size) {
    if (depth == 0) return malloc(size);
    void *p = descend(depth - 1, size);
    __asm__ volatile("" ::: "memory");
    return p;
}

static void *worker(void *arg) {
    int me = (int)(long)arg, next = (me + 1) % THREADS;
    void *mine[64] = {0};
    unsigned sink = 0;
    for (long i = 0; i < per_thread; i++) {
        size_t size = 16 + (size_t)(i * 37 % 512);
        void *p = descend(8 + (int)(i % 9), size);
        sink += bench_touch(p, size, (unsigned)i);
        if (i % 4 == 0) {
            /* Give it to the next thread, and free whatever was waiting for us in our own slot. */
            void *old = atomic_exchange(&handoff[next][i % HANDOFF], p);
            free(old);
        } else {
            int slot = (int)(i % 64);
            free(mine[slot]);
            mine[slot] = p;
        }
    }
    for (int i = 0; i < 64; i++) free(mine[i]);
    return (void *)(long)(sink & 0);
}

int main(int argc, char **argv) {
    per_thread = (argc > 1 ? atol(argv[1]) : 2000000) / THREADS;
    pthread_t threads[THREADS];
    for (long t = 0; t < THREADS; t++) pthread_create(&threads[t], NULL, worker, (void *)t);
    for (int t = 0; t < THREADS; t++) pthread_join(threads[t], NULL);
    for (int t = 0; t < THREADS; t++)
        for (int i = 0; i < HANDOFF; i++) free(atomic_load(&handoff[t][i]));
    bench_report();
    return 0;
}
