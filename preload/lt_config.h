/* The LEAKTRACK_* environment table (lt_config.c), read once while the shim starts. */
#ifndef LT_CONFIG_H
#define LT_CONFIG_H

#include "lt_base.h"

struct lt_config {
    int disabled;               /* LEAKTRACK_DISABLE=1, or a secure-execution program */
    int quiet;                  /* LEAKTRACK_QUIET=1: no banner */
    uint32_t depth;             /* LEAKTRACK_DEPTH */
    int libunwind_only;         /* LEAKTRACK_UNWIND=libunwind: never the fast unwinder */
    uint32_t ring_log2;         /* the ring holds 2^ring_log2 words (LEAKTRACK_BUFFER_SIZE) */
    uint64_t stack_slots;       /* LEAKTRACK_MAX_STACKS * 2, a power of two */
    uint32_t exit_timeout_ms;   /* LEAKTRACK_EXIT_TIMEOUT */
    uint64_t sample_bytes;      /* LEAKTRACK_SAMPLE: mean bytes between sampled allocations; 0: record all */
    uint64_t sample_seed;       /* LEAKTRACK_SAMPLE_SEED: 0, or the seed of every thread's sampler (tests) */
    const char *socket_path;    /* LEAKTRACK_SOCKET: set by `leaktrack record` */
    const char *collector_path; /* LEAKTRACK_COLLECTOR: the leaktrack executable for bare mode */
    const char *output_dir;     /* LEAKTRACK_OUTPUT_DIR: where bare mode writes traces */
};

extern LT_HIDDEN struct lt_config lt_config;
void lt_config_load(void);

#endif /* LT_CONFIG_H */
