#include <stdlib.h>

void *volatile linked_keep[8];
static int n;

__attribute__((noinline)) void linked_leak(void) { linked_keep[n++] = malloc(1234); }
