/* Call sites for symbolization tests: a plain leak and a leak through an always-inlined helper. */
#include <stdlib.h>

void *volatile kept[4];

static inline __attribute__((always_inline)) void *make_buffer(size_t n) {
    return malloc(n);
}

__attribute__((noinline)) void plain_leak(void) {
    kept[0] = malloc(123);
}

__attribute__((noinline)) void uses_inline(void) {
    kept[1] = make_buffer(321);
}

int main(void) {
    plain_leak();
    uses_inline();
    return 0;
}
