/* A process that forks workers one after another, like a pre-forking server or a build tool: each child
 * allocates and frees a little (so it has a stream, and a trace, of its own) and exits. */
#include <sys/wait.h>
#include <unistd.h>
#include "common.h"

NOINLINE void child_work(long i) {
    void *blocks[64];
    for (int j = 0; j < 64; j++) blocks[j] = malloc(32 + (size_t)((i + j) % 256));
    for (int j = 0; j < 64; j++) free(blocks[j]);
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000;
    for (long i = 0; i < n; i++) {
        pid_t child = fork();
        if (child == 0) {
            child_work(i);
            exit(0);
        }
        if (child < 0) return 1;
        waitpid(child, NULL, 0);
    }
    bench_report();
    return 0;
}
