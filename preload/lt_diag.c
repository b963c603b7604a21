/*
 * Diagnostics and small system helpers. Messages are assembled in a stack buffer and written with a single
 * write(2): stdio would allocate, lock and could re-enter the hooks.
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lt_diag.h"

#define LT_DIAG_MAX 1024

void lt_diag(const char *first, ...) {
    char buf[LT_DIAG_MAX];
    size_t used = 0;
    static const char prefix[] = "leaktrack: ";
    memcpy(buf, prefix, sizeof prefix - 1);
    used = sizeof prefix - 1;
    va_list args;
    va_start(args, first);
    for (const char *piece = first; piece != NULL; piece = va_arg(args, const char *)) {
        size_t len = strlen(piece);
        if (len > LT_DIAG_MAX - 1 - used) len = LT_DIAG_MAX - 1 - used;
        memcpy(buf + used, piece, len);
        used += len;
    }
    va_end(args);
    buf[used++] = '\n';
    int saved = errno;
    ssize_t ignored = write(STDERR_FILENO, buf, used);
    (void)ignored;
    errno = saved;
}

char *lt_format_u64(uint64_t value, char *buf) {
    char tmp[21];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0);
    for (int i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
    return buf;
}

static uint64_t lt_clock_ns(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t lt_monotonic_ns(void) { return lt_clock_ns(CLOCK_MONOTONIC); }
uint64_t lt_realtime_ns(void) { return lt_clock_ns(CLOCK_REALTIME); }

void lt_sleep_ns(uint64_t ns) {
    struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000u), .tv_nsec = (long)(ns % 1000000000u)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}
