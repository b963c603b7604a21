/* Thread ordinals (lt_threads.c): the small number ALLOC and REALLOC_END carry for the allocating thread, and
 * the THREAD record that names it, once per thread and stream. */
#ifndef LT_THREADS_H
#define LT_THREADS_H

#include <stdint.h>

#include "lt_base.h"

/* This thread's ordinal in the current stream: 0 until it first allocates while tracked, then 1.. or
 * LT_THREAD_MANY. */
extern LT_HIDDEN LT_TLS uint16_t lt_thread_ordinal;

/* Gives this thread its ordinal and writes its THREAD record (the slow path of lt_thread_current). */
uint16_t lt_threads_assign(void);

/* The ordinal for a record of an allocation this thread made: one TLS load, but for the thread's first. */
static inline uint16_t lt_thread_current(void) {
    uint16_t ordinal = lt_thread_ordinal;
    if (LT_UNLIKELY(ordinal == 0)) ordinal = lt_threads_assign();
    return ordinal;
}

/* In a fork child, whose stream is new: ordinals start again at 1, the forking thread's (the only thread
 * left) included. */
void lt_threads_reset_after_fork(void);

#endif /* LT_THREADS_H */
