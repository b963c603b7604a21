#include <stdlib.h>
void *volatile kept_a;
__attribute__((noinline)) void leak_a(void) { kept_a = malloc(1111); }
