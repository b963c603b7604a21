/* Ending the stream (lt_shutdown.c). */
#ifndef LT_SHUTDOWN_H
#define LT_SHUTDOWN_H

#include <stdint.h>

/* Ends tracking cleanly: FINAL record, flush, wait for the collector. Safe to call more than once. */
void lt_shutdown(uint64_t exit_status);
/* Ends tracking when this image is about to vanish (exec, a fatal signal): FINAL once the collector holds the
 * ring's mapping, which outlives the image, so the collector reads the rest on its own; no wait for it. */
void lt_shutdown_without_waiting(uint64_t exit_status);

#endif /* LT_SHUTDOWN_H */
