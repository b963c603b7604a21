/* Four threads allocate concurrently and free each other's blocks (cross-thread frees) while they all
 * churn through malloc/free, so addresses are reused across threads all the time. Each thread leaks
 * exactly 5 blocks of its own size; everything else is freed by another thread. */
#include <pthread.h>
#include <stdlib.h>

#define THREADS 4
#define BLOCKS  2000
#define LEAKED  5
#define CHURN   20000

static void *blocks[THREADS][BLOCKS];
static pthread_barrier_t barrier;

__attribute__((noinline)) static void *worker_alloc(size_t size) { return malloc(size); }

static void *worker(void *arg) {
    int me = (int)(long)arg;
    size_t size = 16 * (size_t)(me + 1);
    for (int i = 0; i < BLOCKS; i++) blocks[me][i] = worker_alloc(size);
    pthread_barrier_wait(&barrier);
    /* Free the next thread's blocks, all but LEAKED of them, interleaved with churn. */
    int victim = (me + 1) % THREADS;
    for (int i = LEAKED; i < BLOCKS; i++) {
        free(blocks[victim][i]);
        for (int j = 0; j < CHURN / BLOCKS; j++) free(malloc(8 + (size_t)((i + j) % 64)));
    }
    return NULL;
}

int main(void) {
    pthread_t threads[THREADS];
    pthread_barrier_init(&barrier, NULL, THREADS);
    for (long t = 0; t < THREADS; t++) pthread_create(&threads[t], NULL, worker, (void *)t);
    for (int t = 0; t < THREADS; t++) pthread_join(threads[t], NULL);
    pthread_barrier_destroy(&barrier);
    return 0;
}
