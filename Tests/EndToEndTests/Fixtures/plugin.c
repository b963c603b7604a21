#include <stdlib.h>

void *volatile plugin_keep;

__attribute__((noinline)) void plugin_leak(void) { plugin_keep = malloc(4321); }
