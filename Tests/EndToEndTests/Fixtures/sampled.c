/* Known amounts for the sampling tests (SamplingTests.swift).
 *
 *   sampled sites     leaks, each from a function of its own:
 *                       small_leak  40,000 blocks of 100 B    (4,000,000 B)
 *                       mid_leak     2,000 blocks of 4,096 B  (8,192,000 B)
 *                       huge_leak      100 blocks of 10 MiB   (never touched: address space, not memory)
 *                       array_leak  20,000 blocks of 64 x 8 B by reallocarray (10,240,000 B)
 *                     and churn: 2,000,000 blocks of 1 to 1,024 B, each freed at once (no leak)
 *   sampled phantoms  nothing leaks:
 *                       churn, as above;
 *                       realloc chains: 300 blocks grown by realloc from 16 B to 1 MiB, then freed, and 300 by
 *                       reallocarray;
 *                       a producer thread's 200,000 blocks (64 B to 8 KiB) freed by a consumer thread,
 *                       through a queue. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOINLINE __attribute__((noinline))

static void *volatile sink;

NOINLINE void small_leak(void) {
    for (int i = 0; i < 40000; i++) sink = malloc(100);
}

NOINLINE void mid_leak(void) {
    for (int i = 0; i < 2000; i++) sink = malloc(4096);
}

NOINLINE void huge_leak(void) {
    for (int i = 0; i < 100; i++) sink = malloc(10u << 20);
}

NOINLINE void array_leak(void) {
    for (int i = 0; i < 20000; i++) sink = reallocarray(NULL, 64, 8);
}

NOINLINE void churn(void) {
    uint32_t x = 1;
    for (int i = 0; i < 2000000; i++) {
        x = x * 1103515245u + 12345u;
        char *p = malloc(1 + (x >> 16) % 1024);
        p[0] = 1;
        free(p);
    }
}

NOINLINE void realloc_chains(void) {
    for (int i = 0; i < 300; i++) {
        char *p = malloc(16);
        for (size_t size = 32; size <= (1u << 20); size *= 2) {
            p = realloc(p, size);
            p[size - 1] = 1;
        }
        free(p);
    }
    for (int i = 0; i < 300; i++) {
        char *p = reallocarray(NULL, 2, 8);
        for (size_t count = 4; count <= (1u << 17); count *= 2) {
            p = reallocarray(p, count, 8);
            p[count * 8 - 1] = 1;
        }
        free(p);
    }
}

#define QUEUE 1024
static void *queue[QUEUE];
static int head, tail, done;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;

static void *producer(void *unused) {
    (void)unused;
    uint32_t x = 7;
    for (int i = 0; i < 200000; i++) {
        x = x * 1103515245u + 12345u;
        void *p = malloc(64 + (x >> 16) % 8129);
        pthread_mutex_lock(&lock);
        while (tail - head == QUEUE) pthread_cond_wait(&changed, &lock);
        queue[tail++ % QUEUE] = p;
        pthread_cond_broadcast(&changed);
        pthread_mutex_unlock(&lock);
    }
    pthread_mutex_lock(&lock);
    done = 1;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
    return NULL;
}

static void *consumer(void *unused) {
    (void)unused;
    for (;;) {
        pthread_mutex_lock(&lock);
        while (head == tail && !done) pthread_cond_wait(&changed, &lock);
        if (head == tail && done) {
            pthread_mutex_unlock(&lock);
            return NULL;
        }
        void *p = queue[head++ % QUEUE];
        pthread_cond_broadcast(&changed);
        pthread_mutex_unlock(&lock);
        free(p);
    }
}

/* `many`: 400,000 blocks of 64 B leaked, for a rate so dense that the shim's table of sampled blocks fills. */
int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "many") == 0) {
        for (int i = 0; i < 400000; i++) sink = malloc(64);
        puts("done");
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "sites") == 0) {
        small_leak();
        mid_leak();
        huge_leak();
        array_leak();
        churn();
    } else {
        churn();
        realloc_chains();
        pthread_t threads[2];
        pthread_create(&threads[0], NULL, producer, NULL);
        pthread_create(&threads[1], NULL, consumer, NULL);
        pthread_join(threads[0], NULL);
        pthread_join(threads[1], NULL);
    }
    puts("done");
    return 0;
}
