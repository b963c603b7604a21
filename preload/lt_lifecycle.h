/* Starting tracking, and fork (lt_lifecycle.c). */
#ifndef LT_LIFECYCLE_H
#define LT_LIFECYCLE_H

/* Starts tracking if nobody has yet (UNINITIALIZED -> INITIALIZING -> ENABLED, or DISABLED if it cannot):
 * the real functions, the configuration, the ring, the stack table, the fork and signal handlers, HELLO.
 * Called by the first hook and by the constructor; a no-op after the first call. */
void lt_init(void);

#endif /* LT_LIFECYCLE_H */
