/* A "COM component" with the classic DebugDiag bug: CFoo_crtheap allocates 10 KiB on every
 * tenth request and never frees it. Built as libleakcom.so. */
#include <stdlib.h>
#include <string.h>

#define LEAK_EVERY 10
#define LEAK_BYTES (10 * 1024)

__attribute__((noinline)) void *CFoo_crtheap(int request) {
    if (request % LEAK_EVERY != 0) return NULL;
    char *block = malloc(LEAK_BYTES); /* never freed: the leak */
    memset(block, request & 0xff, LEAK_BYTES);
    return block;
}

/* Per-request scratch memory that is handled correctly. */
__attribute__((noinline)) int CFoo_handle(int request) {
    char *scratch = calloc(64, 16);
    int result = scratch[request % 64] + request;
    free(scratch);
    CFoo_crtheap(request);
    return result;
}
