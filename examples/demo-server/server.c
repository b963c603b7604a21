/* A small request loop standing in for a server worker: each request parses a header into a
 * string, passes the request to libleakcom.so, and keeps a session record. Sessions are only
 * freed when they expire; one in every 25 is forgotten (a second, smaller leak, in this executable). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int main(int argc, char **argv) {
    int requests = argc > 1 ? atoi(argv[1]) : 1000;
    long checksum = 0;
    for (int i = 1; i <= requests; i++) {
        char *header = malloc(128);
        snprintf(header, 128, "GET /item/%d HTTP/1.1", i);
        checksum += CFoo_handle(i) + (long)strlen(header);
        free(header);
        struct session *s = open_session(i);
        if (i % 25 != 0) close_session(s); /* every 25th session is forgotten */
    }
    printf("served %d requests (checksum %ld)\n", requests, checksum);
    return 0;
}
