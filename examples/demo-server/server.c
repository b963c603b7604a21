/* A small request loop standing in for a server worker: each request parses a header into a
 * string, passes the request to libleakcom.so, and keeps a session record. Sessions are only
 * freed when they expire; one in every 25 is forgotten (a second, smaller leak, in this executable).
 *
 *   demo-server [REQUESTS]       serves REQUESTS requests (default 1000) and exits: the exit-time report.
 *   demo-server --serve SECONDS  runs like a service for SECONDS: about 200 requests a second, so the leak in
 *                                CFoo_crtheap climbs linearly, beside a cache of recent items that fills (in
 *                                about 13 s) and then stays, and steady churn. For the long-running workflow. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int CFoo_handle(int request);

struct session {
    int id;
    char *user;
};

__attribute__((noinline)) static struct session *open_session(int id) {
    struct session *s = malloc(sizeof *s);
    s->id = id;
    s->user = strdup("guest");
    return s;
}

__attribute__((noinline)) static void close_session(struct session *s) {
    free(s->user);
    free(s);
}

/* One request: what both modes do. */
static long serve_request(int i) {
    char *header = malloc(128);
    snprintf(header, 128, "GET /item/%d HTTP/1.1", i);
    long work = CFoo_handle(i) + (long)strlen(header);
    free(header);
    struct session *s = open_session(i);
    if (i % 25 != 0) close_session(s); /* every 25th session is forgotten */
    return work;
}

#define CACHE_ITEMS      512
#define CACHE_ITEM_BYTES 2048

/* The bounded cache: every fifth request caches its item until the cache is full; later ones find it full.
 * It grows, then stops: a cache, not a leak. Returns a byte of the newest item (so the cache is used). */
__attribute__((noinline)) static int cache_item(int i) {
    static char *items[CACHE_ITEMS];
    static int used;
    if (i % 5 == 0 && used < CACHE_ITEMS) {
        items[used] = malloc(CACHE_ITEM_BYTES);
        memset(items[used++], i & 0xff, CACHE_ITEM_BYTES);
    }
    return used > 0 ? items[used - 1][i % CACHE_ITEM_BYTES] : 0;
}

static double seconds_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int serve_for(double seconds) {
    printf("demo-server: serving for %.0f s as pid %d\n", seconds, (int)getpid());
    fflush(stdout);
    double end = seconds_now() + seconds;
    long checksum = 0;
    int i = 0;
    while (seconds_now() < end) {
        checksum += serve_request(++i);
        checksum += cache_item(i);
        usleep(5000);
    }
    printf("served %d requests (checksum %ld)\n", i, checksum);
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 2 && strcmp(argv[1], "--serve") == 0) return serve_for(atof(argv[2]));
    int requests = argc > 1 ? atoi(argv[1]) : 1000;
    long checksum = 0;
    for (int i = 1; i <= requests; i++) checksum += serve_request(i);
    printf("served %d requests (checksum %ld)\n", requests, checksum);
    return 0;
}
