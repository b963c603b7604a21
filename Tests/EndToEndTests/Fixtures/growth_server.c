/*
 * A service in miniature, for the long-running workflow: it serves "requests" for SECONDS seconds (argument 1)
 * and then exits. Per request it churns (a short-lived block, and one slot of a ring of 1000 replaced); every
 * 50th request adds a 512-byte entry to a cache of at most 2000 (full after 100,000 requests, about a second,
 * then left as it is, and not torn down at exit, like many servers); and every 1000th request leaks one
 * 1000-byte block through growth_leak() in libgrowth.so. Its counts are exact: after R requests the leak holds
 * R / 1000 blocks.
 *
 * With argument 2 set to a file name, it writes its request count there at exit (for the tests to compare).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void *growth_leak(size_t size);

#define RING  1000
#define CACHE 2000

static void *ring[RING];
static void *cache[CACHE];

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *cache_fill(unsigned long request) {
    void *entry = malloc(512);
    if (entry) memset(entry, (int)request, 512);
    return entry;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 5;
    double end = now() + seconds;
    unsigned long request = 0;
    unsigned int seed = 1;
    while (now() < end) {
        for (int batch = 0; batch < 100; batch++, request++) {
            char *scratch = malloc(64 + rand_r(&seed) % 256); /* short-lived */
            if (scratch) scratch[0] = 1;
            free(scratch);
            free(ring[request % RING]);
            ring[request % RING] = malloc(32 + rand_r(&seed) % 64);                                   /* steady churn */
            if (request % 50 == 0 && request / 50 < CACHE) cache[request / 50] = cache_fill(request); /* bounded */
            if (request % 1000 == 999) growth_leak(1000);                                             /* the leak */
        }
        usleep(1000);
    }
    if (argc > 2) {
        FILE *out = fopen(argv[2], "w");
        if (out) {
            fprintf(out, "%lu\n", request);
            fclose(out);
        }
    }
    for (int i = 0; i < RING; i++) free(ring[i]);
    return 0;
}
