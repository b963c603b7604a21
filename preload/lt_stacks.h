/* Stack capture and the lock-free stack table (lt_stacks.c). */
#ifndef LT_STACKS_H
#define LT_STACKS_H

#include "lt_base.h"

int lt_stacks_init(uint64_t slots);
/* A fresh table for a fork child; 0, or -1 if it cannot be mapped (the child then runs untracked). */
int lt_stacks_reset_after_fork(void);
void lt_stacks_set_self_range(uintptr_t lo, uintptr_t hi);
/* Captures the stack above the hook whose frame is `hook_frame` (NULL: above the caller) into the frame buffer
 * of nesting level `level`, and returns its id, emitting a STACK record the first time it is seen. */
uint32_t lt_stack_capture_id(const void *hook_frame, unsigned level);

#ifdef LT_TESTING
/* Tests only: the table gets `slots` slots (a power of two; it takes stacks up to 3/4 of them), now if it is
 * mapped already, else when the shim starts. 0, or -1 if it cannot be mapped. */
int lt_stacks_set_capacity_for_testing(uint64_t slots);
#endif

#endif /* LT_STACKS_H */
