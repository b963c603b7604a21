/* The malloc family's and dlclose's replacement functions (lt_hooks.c), which lt_exports.c forwards to and
 * the C unit tests call directly. */
#ifndef LT_HOOKS_H
#define LT_HOOKS_H

#include <stddef.h>

void *lt_replacement_malloc(size_t size);
void *lt_replacement_calloc(size_t count, size_t size);
void *lt_replacement_realloc(void *ptr, size_t size);
void *lt_replacement_reallocarray(void *ptr, size_t count, size_t size);
void lt_replacement_free(void *ptr);
int lt_replacement_posix_memalign(void **out, size_t alignment, size_t size);
void *lt_replacement_aligned_alloc(size_t alignment, size_t size);
void *lt_replacement_memalign(size_t alignment, size_t size);
void *lt_replacement_valloc(size_t size);
void *lt_replacement_pvalloc(size_t size);
int lt_replacement_dlclose(void *handle);

#endif /* LT_HOOKS_H */
