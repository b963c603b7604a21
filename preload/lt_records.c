/*
 * Encoding the records that are not on the hot path (the hot ones are inline in lt_records.h): the layout is
 * leaktrack_wire.h's, and every record the shim writes is encoded here or there, nowhere else.
 */
#include <string.h>
#include <unistd.h>

#include "leaktrack_wire.h"
#include "lt_base.h"
#include "lt_diag.h"
#include "lt_records.h"
#include "lt_ring.h"
#include "lt_state.h"

void lt_record_stack(uint32_t id, void *const *frames, uint32_t depth, int truncated) {
    uint32_t words = 2 + depth;
    uint64_t pos = lt_ring_claim(words);
    if (pos == UINT64_MAX) return;
    lt_ring_put(pos, 1, (uint64_t)id | ((uint64_t)(depth | (truncated ? LT_STACK_TRUNCATED : 0)) << 32));
    for (uint32_t i = 0; i < depth; i++) lt_ring_put(pos, 2 + i, (uint64_t)(uintptr_t)frames[i]);
    lt_ring_publish(pos, LT_REC_STACK, words);
}

void lt_record_modules_mark(uint32_t type, uint64_t adds, uint64_t subs) {
    uint64_t pos = lt_ring_claim(3);
    if (pos == UINT64_MAX) return;
    lt_ring_put(pos, 1, adds);
    lt_ring_put(pos, 2, subs);
    lt_ring_publish(pos, type, 3);
}

int lt_record_module(uint64_t bias, const struct lt_segment *segments, uint16_t nsegments,
                     const unsigned char *build_id, uint32_t build_id_len, const char *path, uint32_t path_len) {
    uint32_t words = 3 + 2u * nsegments + lt_words_for_bytes(build_id_len) + lt_words_for_bytes(path_len);
    uint64_t pos = lt_ring_claim(words);
    if (pos == UINT64_MAX) return -1;
    uint32_t w = 1;
    lt_ring_put(pos, w++, bias);
    lt_ring_put(pos, w++, (uint64_t)path_len | ((uint64_t)build_id_len << 32) | ((uint64_t)nsegments << 48));
    for (uint16_t i = 0; i < nsegments; i++) {
        lt_ring_put(pos, w++, segments[i].start);
        lt_ring_put(pos, w++, segments[i].end);
    }
    lt_ring_put_bytes(pos, w, build_id, build_id_len);
    w += lt_words_for_bytes(build_id_len);
    lt_ring_put_bytes(pos, w, path, path_len);
    lt_ring_publish(pos, LT_REC_MODULE, words);
    return 0;
}

uint64_t lt_record_final(uint64_t exit_status) {
    uint32_t words = sizeof(struct lt_final) / 8;
    uint64_t pos = lt_ring_claim(words);
    if (pos == UINT64_MAX) return UINT64_MAX;
    lt_ring_put(pos, 1, atomic_load(&lt_counters.no_stack));
    lt_ring_put(pos, 2, atomic_load(&lt_counters.stacks_dropped));
    lt_ring_put(pos, 3, atomic_load(&lt_counters.bootstrap_allocs));
    lt_ring_put(pos, 4, atomic_load(&lt_counters.failed_allocs));
    lt_ring_put(pos, 5, atomic_load(&lt_counters.skipped_words));
    lt_ring_put(pos, 6, exit_status);
    lt_ring_put(pos, 7, 0);
    lt_ring_publish(pos, LT_REC_FINAL, words);
    return pos + words;
}

uint32_t lt_record_hello(uint64_t *words, int forked, uint32_t max_depth, uint32_t ring_log2, const char *exe,
                         uint32_t exe_len, const char *cmdline, uint32_t cmdline_len) {
    memset(words, 0, LT_HELLO_MAX_WORDS * sizeof *words);
    struct lt_hello *hello = (struct lt_hello *)words;
    uint32_t total = sizeof *hello / 8 + lt_words_for_bytes(exe_len) + lt_words_for_bytes(cmdline_len);
    hello->header = lt_header_make(LT_REC_HELLO, total, 0);
    memcpy(hello->magic, LT_WIRE_MAGIC, LT_WIRE_MAGIC_SIZE);
    hello->version = LT_WIRE_VERSION;
    hello->pointer_size = sizeof(void *);
    hello->little_endian = 1;
    hello->flags = forked ? LT_HELLO_FORKED : 0;
    hello->pid = (uint32_t)getpid();
    hello->ppid = (uint32_t)getppid();
    hello->realtime_ns = lt_realtime_ns();
    hello->monotonic_ns = lt_monotonic_ns();
    hello->max_depth = max_depth;
    hello->exe_len = exe_len;
    hello->cmdline_len = cmdline_len;
    hello->ring_log2 = ring_log2;
    unsigned char *tail = (unsigned char *)(hello + 1);
    memcpy(tail, exe, exe_len);
    memcpy(tail + lt_words_for_bytes(exe_len) * 8, cmdline, cmdline_len);
    return total;
}
