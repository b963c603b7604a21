/*
 * A static arena for the few allocations made before the real allocator is known: dlsym itself may call
 * calloc (for its error buffer) while we are looking up "malloc". Blocks carry their size in a header so
 * realloc can copy them out; they are never reused and free() of one is ignored. Bump allocation with one
 * atomic add, so it is safe from any thread.
 */
#include <string.h>

#include "lt_bootstrap.h"
#include "lt_state.h"

#define LT_BOOTSTRAP_HEADER 16u

_Alignas(64) unsigned char lt_arena[LT_BOOTSTRAP_BYTES];
static _Atomic size_t lt_arena_used;

void *lt_bootstrap_alloc(size_t size, size_t alignment) {
    if (alignment < LT_BOOTSTRAP_HEADER) alignment = LT_BOOTSTRAP_HEADER;
    if (alignment > 4096 || (alignment & (alignment - 1)) != 0 || size > LT_BOOTSTRAP_BYTES) return NULL;
    size_t need = size + alignment + LT_BOOTSTRAP_HEADER;
    size_t start = atomic_fetch_add(&lt_arena_used, need);
    if (start + need > LT_BOOTSTRAP_BYTES) return NULL;
    uintptr_t base = (uintptr_t)lt_arena + start + LT_BOOTSTRAP_HEADER;
    uintptr_t aligned = (base + alignment - 1) & ~(uintptr_t)(alignment - 1);
    memcpy((void *)(aligned - sizeof(size_t)), &size, sizeof size);
    atomic_fetch_add(&lt_counters.bootstrap_allocs, 1);
    /* The arena is zero-initialized and never reused, so calloc needs no memset. */
    return (void *)aligned;
}

size_t lt_bootstrap_size(const void *ptr) {
    size_t size;
    memcpy(&size, (const unsigned char *)ptr - sizeof(size_t), sizeof size);
    return size;
}
