/* The static arena for allocations made while dlsym looks up the real allocator (lt_bootstrap.c). */
#ifndef LT_BOOTSTRAP_H
#define LT_BOOTSTRAP_H

#include <stddef.h>

#include "lt_base.h"

#define LT_BOOTSTRAP_BYTES (256u * 1024u)
extern LT_HIDDEN unsigned char lt_arena[LT_BOOTSTRAP_BYTES];

void *lt_bootstrap_alloc(size_t size, size_t alignment);
/* Inline: every free asks. */
static inline int lt_bootstrap_owns(const void *ptr) {
    return (const unsigned char *)ptr >= lt_arena && (const unsigned char *)ptr < lt_arena + LT_BOOTSTRAP_BYTES;
}
size_t lt_bootstrap_size(const void *ptr);

#endif /* LT_BOOTSTRAP_H */
