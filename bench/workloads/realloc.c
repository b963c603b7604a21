/* realloc growth chains, calloc, and the aligned allocation functions. */
#define _GNU_SOURCE
#include <malloc.h>
#include <string.h>
#include "common.h"

NOINLINE void *grow(int steps, unsigned *sink) {
    char *p = NULL;
    size_t size = 0;
    for (int s = 0; s < steps; s++) {
        size = size * 2 + 24;
        p = realloc(p, size);
        *sink += bench_touch(p, size, (unsigned)s);
    }
    return p;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 200000;
    unsigned sink = 0;
    for (long i = 0; i < n; i++) {
        free(grow(6 + (int)(i % 6), &sink));
        void *c = calloc(8 + (size_t)(i % 32), 16);
        sink += bench_touch(c, 8 * 16, (unsigned)i);
        free(c);
        void *a = aligned_alloc(64, 256);
        void *m = memalign(128, 300);
        void *pm = NULL;
        if (posix_memalign(&pm, 32, 200) != 0) return 1;
        sink += bench_touch(a, 256, 1) + bench_touch(m, 300, 2) + bench_touch(pm, 200, 3);
        free(a);
        free(m);
        free(pm);
    }
    bench_report();
    return (int)(sink & 0);
}
