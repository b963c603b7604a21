/* A request loop that leaks: every 100th request leaks a 512-byte session (exactly n / 100 leaks). */
#include <string.h>
#include "common.h"

struct request {
    char *path;
    char *body;
};

NOINLINE struct request *parse(long i) {
    struct request *r = malloc(sizeof *r);
    r->path = malloc(64);
    r->body = malloc(256 + (size_t)(i % 512));
    bench_touch(r->body, 256, (unsigned)i);
    return r;
}

NOINLINE void *remember_session(long i) {
    void *session = malloc(512);
    bench_touch(session, 512, (unsigned)i);
    return session;
}

NOINLINE void handle(long i) {
    struct request *r = parse(i);
    void *session = remember_session(i);
    if (i % 100 != 0) free(session); /* the leak: every 100th session is never freed */
    free(r->body);
    free(r->path);
    free(r);
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 500000;
    for (long i = 0; i < n; i++) handle(i);
    bench_report();
    return 0;
}
