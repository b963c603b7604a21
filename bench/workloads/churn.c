/* Single-thread malloc/free churn of mixed sizes, from six call sites at call depths 10 to 20. */
#include "common.h"

#define SLOTS 256
static void *slots[SLOTS];
static unsigned sink;

#define SITE(n)                                                                                                        \
    NOINLINE void *site##n(size_t size) { return malloc(size); }
SITE(0)
SITE(1)
SITE(2)
SITE(3)
SITE(4)
SITE(5)
static void *(*const sites[6])(size_t) = {site0, site1, site2, site3, site4, site5};

NOINLINE void *descend(int depth, int site, size_t size) {
    if (depth == 0) return sites[site](size);
    void *p = descend(depth - 1, site, size);
    __asm__ volatile("" ::: "memory");
    return p;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 2000000;
    for (long i = 0; i < n; i++) {
        int slot = (int)(i * 7919 % SLOTS);
        free(slots[slot]);
        size_t size = 16 + (size_t)(i * 37 % 1024);
        slots[slot] = descend(8 + (int)(i % 11), (int)(i % 6), size);
        sink += bench_touch(slots[slot], size, (unsigned)i);
    }
    for (int i = 0; i < SLOTS; i++) free(slots[i]);
    bench_report();
    return (int)(sink & 0);
}
