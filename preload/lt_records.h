/*
 * Encoding the records (lt_records.c), one function per record type of leaktrack_wire.h: each claims its
 * words in the ring, stores the body and publishes the header (HELLO, which goes on the socket instead, is
 * built in a buffer through its struct). The words are stored one at a time (atomic stores, the header last),
 * at the indices and shifts the wire header derives from its structs (LT_ALLOC_WORD_PTR, ...). The ones on the hot path (ALLOC, FREE, REALLOC_END) are inline here: a hook costs the
 * same as when they sat beside it.
 */
#ifndef LT_RECORDS_H
#define LT_RECORDS_H

#include "leaktrack_wire.h"
#include "lt_base.h"
#include "lt_ring.h"

/* ALLOC, by the thread of ordinal `thread` (lt_threads.h). A record the ring has no room for (the collector is
 * gone) is dropped. */
static inline void lt_record_alloc(uint64_t ptr, uint64_t size, uint32_t stack, uint8_t kind, uint16_t thread) {
    uint64_t pos = lt_ring_claim(LT_ALLOC_WORDS);
    if (LT_UNLIKELY(pos == UINT64_MAX)) return;
    lt_ring_put(pos, LT_ALLOC_WORD_STACK,
                (uint64_t)stack | ((uint64_t)kind << LT_ALLOC_KIND_SHIFT) |
                    ((uint64_t)thread << LT_ALLOC_THREAD_SHIFT));
    lt_ring_put(pos, LT_ALLOC_WORD_PTR, ptr);
    lt_ring_put(pos, LT_ALLOC_WORD_SIZE, size);
    lt_ring_publish(pos, LT_REC_ALLOC, LT_ALLOC_WORDS);
}

/* FREE or REALLOC_BEGIN (`type`). Returns the record's position (its tag), UINT64_MAX if it was dropped. */
static inline uint64_t lt_record_free(uint32_t type, uint64_t ptr) {
    uint64_t pos = lt_ring_claim(LT_FREE_WORDS);
    if (LT_UNLIKELY(pos == UINT64_MAX)) return pos;
    lt_ring_put(pos, LT_FREE_WORD_PTR, ptr);
    lt_ring_publish(pos, type, LT_FREE_WORDS);
    return pos;
}

/* REALLOC_END for the REALLOC_BEGIN at position `begin`, by the thread of ordinal `thread`. */
static inline void lt_record_realloc_end(uint64_t begin, uint64_t new_ptr, uint64_t size, uint32_t stack,
                                         uint8_t status, uint8_t kind, uint16_t thread) {
    uint64_t pos = lt_ring_claim(LT_REALLOC_END_WORDS);
    if (LT_UNLIKELY(pos == UINT64_MAX)) return;
    lt_ring_put(pos, LT_REALLOC_END_WORD_BEGIN_TAG, lt_tag(begin));
    lt_ring_put(pos, LT_REALLOC_END_WORD_NEW_PTR, new_ptr);
    lt_ring_put(pos, LT_REALLOC_END_WORD_SIZE, size);
    lt_ring_put(pos, LT_REALLOC_END_WORD_STACK,
                (uint64_t)stack | ((uint64_t)status << LT_REALLOC_END_STATUS_SHIFT) |
                    ((uint64_t)kind << LT_REALLOC_END_KIND_SHIFT) | ((uint64_t)thread << LT_REALLOC_END_THREAD_SHIFT));
    lt_ring_publish(pos, LT_REC_REALLOC_END, LT_REALLOC_END_WORDS);
}

/* THREAD: names the ordinal `ordinal` (below LT_THREAD_MANY); `name` is LT_THREAD_NAME_SIZE bytes, NUL padded. */
void lt_record_thread(uint32_t ordinal, uint32_t tid, const char *name);
/* STACK: `depth` frames (at most LT_MAX_DEPTH), innermost first. */
void lt_record_stack(uint32_t id, void *const *frames, uint32_t depth, int truncated);
/* MODULES_BEGIN or MODULES_END (`type`), with the loader's counters. */
void lt_record_modules_mark(uint32_t type, uint64_t adds, uint64_t subs);
/* MODULE: one loaded object. 0, or -1 if the record was dropped. */
int lt_record_module(uint64_t bias, const struct lt_segment *segments, uint16_t nsegments,
                     const unsigned char *build_id, uint32_t build_id_len, const char *path, uint32_t path_len);
/* FINAL, with the loss counters (lt_counters) and the exit status. Returns the position after it, or
 * UINT64_MAX if it was dropped. */
uint64_t lt_record_final(uint64_t exit_status);

/* The most words a HELLO takes: the fixed part, the longest executable path and command line, padding. */
#define LT_HELLO_MAX_WORDS ((sizeof(struct lt_hello) + LT_MAX_PATH + LT_MAX_CMDLINE) / 8 + 2)
/* Builds HELLO (this process's identity and clocks) into `words`, which holds LT_HELLO_MAX_WORDS; returns its
 * length in words. `exe_len` is at most LT_MAX_PATH, `cmdline_len` at most LT_MAX_CMDLINE. */
uint32_t lt_record_hello(uint64_t *words, int forked, uint32_t max_depth, uint32_t ring_log2, uint64_t sample_bytes,
                         const char *exe, uint32_t exe_len, const char *cmdline, uint32_t cmdline_len);

#endif /* LT_RECORDS_H */
