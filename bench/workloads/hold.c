/* Holds HELD live blocks of 32 bytes (argument 1), then for SECONDS (argument 2) allocates and frees in a
 * loop, timing every iteration: the longest one is how long the program was held up at worst (by a snapshot
 * of its collector, say). Prints BENCH_STATS like the other workloads, with max_stall_us. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    long held = argc > 1 ? atol(argv[1]) : 1000000;
    double seconds = argc > 2 ? atof(argv[2]) : 5;
    void **blocks = malloc(held * sizeof *blocks);
    for (long i = 0; i < held; i++) blocks[i] = malloc(32);
    double start = now(), end = start + seconds, last = start, worst = 0;
    long iterations = 0;
    while (last < end) {
        void *p = malloc(64);
        free(p);
        double t = now();
        if (t - last > worst) worst = t - last;
        last = t;
        iterations++;
    }
    fprintf(stderr, "BENCH_STATS max_stall_us=%.0f iterations=%ld\n", worst * 1e6, iterations);
    return blocks[held / 2] == NULL;
}
