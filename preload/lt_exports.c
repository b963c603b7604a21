/*
 * Every symbol libleaktrack.so exports, each a one-line forwarder to the engine (lt_engine.c). The library is
 * built with -fvisibility=hidden, so these are the only names it adds to the program's symbol space.
 * C++ operator new and delete, strdup, and the rest of libc reach these through the PLT.
 */
#include <stddef.h>

#include "lt_internal.h"

#define LT_EXPORT __attribute__((visibility("default")))

LT_EXPORT void *malloc(size_t size) { return lt_replacement_malloc(size); }
LT_EXPORT void *calloc(size_t count, size_t size) { return lt_replacement_calloc(count, size); }
LT_EXPORT void *realloc(void *ptr, size_t size) { return lt_replacement_realloc(ptr, size); }
LT_EXPORT void *reallocarray(void *ptr, size_t count, size_t size) { return lt_replacement_reallocarray(ptr, count, size); }
LT_EXPORT void free(void *ptr) { lt_replacement_free(ptr); }
LT_EXPORT int posix_memalign(void **out, size_t alignment, size_t size) { return lt_replacement_posix_memalign(out, alignment, size); }
LT_EXPORT void *aligned_alloc(size_t alignment, size_t size) { return lt_replacement_aligned_alloc(alignment, size); }
LT_EXPORT void *memalign(size_t alignment, size_t size) { return lt_replacement_memalign(alignment, size); }
LT_EXPORT void *valloc(size_t size) { return lt_replacement_valloc(size); }
LT_EXPORT void *pvalloc(size_t size) { return lt_replacement_pvalloc(size); }
LT_EXPORT void exit(int status) { lt_replacement_exit(status); }
LT_EXPORT void _exit(int status) { lt_replacement_exit_now(status); }
LT_EXPORT void _Exit(int status) { lt_replacement_exit_now(status); }
LT_EXPORT int dlclose(void *handle) { return lt_replacement_dlclose(handle); }
