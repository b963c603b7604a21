/* The fast unwinder (lt_unwind.c): cached .eh_frame rules, with libunwind as its caller's fallback. */
#ifndef LT_UNWIND_H
#define LT_UNWIND_H

int lt_unwind_init(void);
/* The calling thread's return addresses, innermost first, as unw_backtrace gives them; -1 when a frame
 * needs more than this unwinder follows (the caller then uses libunwind). With `frame`, the frame-pointer
 * frame of a function on the current stack (push rbp; mov rsp, rbp), the walk starts at that function's
 * return address and skips everything below it. */
int lt_unwind_backtrace(const void *frame, void **frames, int max);
/* Forgets every cached rule: after dlclose, the same code addresses may belong to other code. */
void lt_unwind_forget(void);

#endif /* LT_UNWIND_H */
