/* 8 threads x N allocations (argv[1]); every 4th block is handed to the next thread, which frees it, so
 * addresses move between threads all the time. Each thread leaks exactly 10 blocks of 32 bytes from
 * stress_leak(); everything else is freed. Exact totals: 8 * (N + 10) allocations, 80 of them leaked. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#define THREADS 8
#define HANDOFF 256

static _Atomic(void *) handoff[THREADS][HANDOFF];
static long per_thread;

/* The empty asm after each call keeps it from being a tail call at -O2, so these frames stay on the stack. */
__attribute__((noinline)) static void *stress_alloc(size_t size) {
    void *p = malloc(size);
    __asm__ volatile("" : : "r"(p) : "memory");
    return p;
}
__attribute__((noinline)) static void *stress_leak(void) {
    void *p = malloc(32);
    __asm__ volatile("" : : "r"(p) : "memory");
    return p;
}

static void *worker(void *arg) {
    int me = (int)(long)arg, next = (me + 1) % THREADS;
    void *mine[16] = {0};
    for (long i = 0; i < per_thread; i++) {
        void *p = stress_alloc(16 + (size_t)(i % 200));
        if (i % 4 == 0) {
            free(atomic_exchange(&handoff[next][i % HANDOFF], p));
        } else {
            free(mine[i % 16]);
            mine[i % 16] = p;
        }
    }
    for (int i = 0; i < 16; i++) free(mine[i]);
    static void *volatile leaked[THREADS][10];
    for (int i = 0; i < 10; i++) leaked[me][i] = stress_leak();
    return NULL;
}

int main(int argc, char **argv) {
    per_thread = argc > 1 ? atol(argv[1]) : 100000;
    pthread_t threads[THREADS];
    for (long t = 0; t < THREADS; t++) pthread_create(&threads[t], NULL, worker, (void *)t);
    for (int t = 0; t < THREADS; t++) pthread_join(threads[t], NULL);
    for (int t = 0; t < THREADS; t++)
        for (int i = 0; i < HANDOFF; i++) free(atomic_load(&handoff[t][i]));
    return 0;
}
