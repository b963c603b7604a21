/* A program that keeps allocating for a while (about ITERATIONS ms), leaking one block every 100 rounds, then
 * prints how many rounds it did. For tests that disturb the collector while it runs. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static void *volatile kept[100000];

__attribute__((noinline)) static void *steady_leak(size_t size) { return malloc(size); }

int main(int argc, char **argv) {
    long rounds = argc > 1 ? atol(argv[1]) : 1000;
    long leaked = 0;
    for (long i = 0; i < rounds; i++) {
        for (int j = 0; j < 100; j++) free(malloc(64 + (size_t)j));
        if (i % 100 == 0 && leaked < 100000) kept[leaked++] = steady_leak(48);
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
    }
    printf("done %ld rounds\n", rounds);
    return 0;
}
