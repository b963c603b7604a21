/* Allocations at call depths 100 to 160. */
#include "common.h"

static unsigned sink;

NOINLINE void *deep(int depth, size_t size) {
    if (depth == 0) {
        void *p = malloc(size);
        sink += bench_touch(p, size, (unsigned)size);
        return p;
    }
    void *p = deep(depth - 1, size);
    __asm__ volatile("" ::: "memory");
    return p;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 200000;
    void *keep[16] = {0};
    for (long i = 0; i < n; i++) {
        free(keep[i % 16]);
        keep[i % 16] = deep(100 + (int)(i % 61), 32 + (size_t)(i % 200));
    }
    for (int i = 0; i < 16; i++) free(keep[i]);
    bench_report();
    return (int)(sink & 0);
}
