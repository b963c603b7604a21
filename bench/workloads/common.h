/* Shared by the benchmark workloads: a report of the process's own CPU time and peak RSS at exit, so the
 * benchmark measures the target itself, apart from any collector. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#define NOINLINE __attribute__((noinline))

static void bench_report(void) {
    const char *path = getenv("BENCH_STATS");
    if (path == NULL) return;
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    FILE *f = fopen(path, "w");
    if (f == NULL) return;
    fprintf(f, "%.6f %.6f %ld\n", usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6,
            usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6, usage.ru_maxrss);
    fclose(f);
}

/* A little deterministic work per operation, like a program that does something with its memory. */
static inline unsigned bench_touch(void *p, size_t n, unsigned seed) {
    unsigned char *b = (unsigned char *)p;
    for (size_t i = 0; i < n; i += 64) b[i] = (unsigned char)(seed + i);
    return b[0] + b[n - 1];
}

#endif
