/* The interposition floor for scripts/bench: a preloaded library whose malloc family only forwards to glibc's.
 * No tracing at all; what it costs over a bare run is what any LD_PRELOAD allocation tracer pays before it
 * does anything (the call through the program's PLT into another library, and the jump on). */
#include <stddef.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

void *malloc(size_t size) { return __libc_malloc(size); }
void *calloc(size_t count, size_t size) { return __libc_calloc(count, size); }
void *realloc(void *ptr, size_t size) { return __libc_realloc(ptr, size); }
void *memalign(size_t alignment, size_t size) { return __libc_memalign(alignment, size); }
void *aligned_alloc(size_t alignment, size_t size) { return __libc_memalign(alignment, size); }
void free(void *ptr) { __libc_free(ptr); }
