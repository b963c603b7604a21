#include <stdlib.h>
void *volatile kept_b;
__attribute__((noinline)) void leak_b(void) { kept_b = malloc(2222); }
