/* One leak through every interposed allocation function, each in its own function so the report can name
 * it, plus calls that must not leak (freed blocks, realloc(p, 0), failed allocations). Nothing is printed
 * through stdio, so no stdio buffer is allocated. */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

void *volatile sink[64];
static int sunk;
static void keep(void *p) { sink[sunk++] = p; }

NOINLINE void leak_malloc(void) { keep(malloc(100)); }
NOINLINE void leak_calloc(void) { keep(calloc(10, 20)); }
NOINLINE void leak_realloc(void) {
    void *p = malloc(10);
    keep(realloc(p, 300));
}
NOINLINE void leak_realloc_null(void) { keep(realloc(NULL, 400)); }
NOINLINE void leak_reallocarray(void) { keep(reallocarray(NULL, 50, 10)); }
NOINLINE void leak_posix_memalign(void) {
    void *p = NULL;
    if (posix_memalign(&p, 64, 600) == 0) keep(p);
}
NOINLINE void leak_aligned_alloc(void) { keep(aligned_alloc(128, 768)); }
NOINLINE void leak_memalign(void) { keep(memalign(256, 800)); }
NOINLINE void leak_valloc(void) { keep(valloc(900)); }
NOINLINE void leak_pvalloc(void) { keep(pvalloc(1000)); }
NOINLINE void leak_strdup(void) { keep(strdup("0123456789")); }

NOINLINE void no_leaks(void) {
    free(malloc(1));
    free(calloc(3, 3));
    void *p = realloc(NULL, 10);
    p = realloc(p, 1000);
    p = realloc(p, 5);
    free(p);
    void *q = malloc(7);
    if (realloc(q, 0) != NULL) _exit(90); /* glibc frees q and returns NULL */
    free(NULL);
    if (calloc(SIZE_MAX / 2, 4) != NULL) _exit(91); /* overflow: fails, nothing allocated */
    if (malloc(SIZE_MAX - 4096) != NULL) _exit(92);
    void *r = malloc(16);
    if (realloc(r, SIZE_MAX - 4096) != NULL) _exit(93); /* fails: r stays live... */
    free(r);                                        /* ...and is freed here */
    if (reallocarray(NULL, SIZE_MAX / 2, 4) != NULL) _exit(94);
    void *a = NULL;
    if (posix_memalign(&a, 3, 16) != EINVAL) _exit(95);
    free(aligned_alloc(64, 64));
    free(memalign(64, 10));
    free(valloc(10));
    free(pvalloc(10));
    free(strdup("x"));
}

int main(void) {
    for (int i = 0; i < 3; i++) leak_malloc();
    leak_calloc();
    leak_realloc();
    leak_realloc_null();
    leak_reallocarray();
    leak_posix_memalign();
    leak_aligned_alloc();
    leak_memalign();
    leak_valloc();
    leak_pvalloc();
    leak_strdup();
    no_leaks();
    return 0;
}
