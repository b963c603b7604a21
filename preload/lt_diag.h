/* Messages through write(2), and the clocks (lt_diag.c). */
#ifndef LT_DIAG_H
#define LT_DIAG_H

#include <stdint.h>

/* Writes "leaktrack: " + the pieces + "\n" to stderr with one write(2). Pieces end with NULL. */
void lt_diag(const char *first, ...) __attribute__((sentinel));
/* Formats an unsigned number into buf (at least 21 bytes); returns buf. */
char *lt_format_u64(uint64_t value, char *buf);
uint64_t lt_monotonic_ns(void);
uint64_t lt_realtime_ns(void);
void lt_sleep_ns(uint64_t ns);

#endif /* LT_DIAG_H */
