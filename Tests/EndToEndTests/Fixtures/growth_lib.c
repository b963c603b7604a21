/* The leaking site of growth_server.c, in a shared library of its own (libgrowth.so). */
#include <stdlib.h>
#include <string.h>

void *growth_leak(size_t size) {
    void *block = malloc(size);
    if (block) memset(block, 0x5a, size);
    return block;
}
