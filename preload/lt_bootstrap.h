/* The static arena for allocations made while dlsym looks up the real allocator (lt_bootstrap.c). */
#ifndef LT_BOOTSTRAP_H
#define LT_BOOTSTRAP_H

#include <stddef.h>

void *lt_bootstrap_alloc(size_t size, size_t alignment);
int lt_bootstrap_owns(const void *ptr);
size_t lt_bootstrap_size(const void *ptr);

#endif /* LT_BOOTSTRAP_H */
