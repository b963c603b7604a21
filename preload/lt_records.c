/*
 * Encoding the records that are not on the hot path (the hot ones are inline in lt_records.h): the layout is
 * leaktrack_wire.h's (its structs, and the word indices it derives from them), and every record the shim
 * writes is encoded here or there, nowhere else.
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
    uint32_t words = LT_STACK_WORDS + depth;
    uint64_t pos = lt_ring_claim(words);
    if (pos == UINT64_MAX) return;
    lt_ring_put(pos, LT_STACK_WORD_ID,
                (uint64_t)id | ((uint64_t)(depth | (truncated ? LT_STACK_TRUNCATED : 0)) << LT_STACK_DEPTH_SHIFT));
    for (uint32_t i = 0; i < depth; i++) lt_ring_put(pos, LT_STACK_WORDS + i, (uint64_t)(uintptr_t)frames[i]);
    lt_ring_publish(pos, LT_REC_STACK, words);
}

void lt_record_thread(uint32_t ordinal, uint32_t tid, const char *name) {
    uint64_t pos = lt_ring_claim(LT_THREAD_WORDS);
    if (pos == UINT64_MAX) return;
    lt_ring_put(pos, LT_THREAD_WORD_ORDINAL, (uint64_t)ordinal | ((uint64_t)tid << LT_THREAD_TID_SHIFT));
    lt_ring_put_bytes(pos, LT_THREAD_WORD_NAME, name, LT_THREAD_NAME_SIZE);
    lt_ring_publish(pos, LT_REC_THREAD, LT_THREAD_WORDS);
}

void lt_record_modules_mark(uint32_t type, uint64_t adds, uint64_t subs) {
    uint64_t pos = lt_ring_claim(LT_MODULES_MARK_WORDS);
    if (pos == UINT64_MAX) return;
    lt_ring_put(pos, LT_MODULES_MARK_WORD_ADDS, adds);
    lt_ring_put(pos, LT_MODULES_MARK_WORD_SUBS, subs);
    lt_ring_publish(pos, type, LT_MODULES_MARK_WORDS);
}

int lt_record_module(uint64_t bias, const struct lt_segment *segments, uint16_t nsegments,
                     const unsigned char *build_id, uint32_t build_id_len, const char *path, uint32_t path_len) {
    uint32_t words = LT_MODULE_WORDS + LT_SEGMENT_WORDS * nsegments + lt_words_for_bytes(build_id_len) +
                     lt_words_for_bytes(path_len);
    uint64_t pos = lt_ring_claim(words);
    if (pos == UINT64_MAX) return -1;
    lt_ring_put(pos, LT_MODULE_WORD_BIAS, bias);
    lt_ring_put(pos, LT_MODULE_WORD_LENGTHS,
                (uint64_t)path_len | ((uint64_t)build_id_len << LT_MODULE_BUILD_ID_LEN_SHIFT) |
                    ((uint64_t)nsegments << LT_MODULE_NSEGMENTS_SHIFT));
    uint32_t w = LT_MODULE_WORDS;
    for (uint16_t i = 0; i < nsegments; i++, w += LT_SEGMENT_WORDS) {
        lt_ring_put(pos, w + LT_SEGMENT_WORD_START, segments[i].start);
        lt_ring_put(pos, w + LT_SEGMENT_WORD_END, segments[i].end);
    }
    lt_ring_put_bytes(pos, w, build_id, build_id_len);
    w += lt_words_for_bytes(build_id_len);
    lt_ring_put_bytes(pos, w, path, path_len);
    lt_ring_publish(pos, LT_REC_MODULE, words);
    return 0;
}

uint64_t lt_record_final(uint64_t exit_status) {
    uint64_t pos = lt_ring_claim(LT_FINAL_WORDS);
    if (pos == UINT64_MAX) return UINT64_MAX;
    lt_ring_put(pos, LT_FINAL_WORD_NO_STACK, atomic_load(&lt_counters.no_stack));
    lt_ring_put(pos, LT_FINAL_WORD_STACKS_DROPPED, atomic_load(&lt_counters.stacks_dropped));
    lt_ring_put(pos, LT_FINAL_WORD_BOOTSTRAP_ALLOCS, atomic_load(&lt_counters.bootstrap_allocs));
    lt_ring_put(pos, LT_FINAL_WORD_FAILED_ALLOCS, atomic_load(&lt_counters.failed_allocs));
    lt_ring_put(pos, LT_FINAL_WORD_SKIPPED_WORDS, atomic_load(&lt_counters.skipped_words));
    lt_ring_put(pos, LT_FINAL_WORD_EXIT_STATUS, exit_status);
    lt_ring_put(pos, LT_FINAL_WORD_SAMPLES_REFUSED, atomic_load(&lt_counters.samples_refused));
    lt_ring_publish(pos, LT_REC_FINAL, LT_FINAL_WORDS);
    return pos + LT_FINAL_WORDS;
}

uint32_t lt_record_hello(uint64_t *words, int forked, uint32_t max_depth, uint32_t ring_log2, uint64_t sample_bytes,
                         const char *exe, uint32_t exe_len, const char *cmdline, uint32_t cmdline_len) {
    memset(words, 0, LT_HELLO_MAX_WORDS * sizeof *words);
    struct lt_hello *hello = (struct lt_hello *)words;
    uint32_t total = LT_HELLO_WORDS + lt_words_for_bytes(exe_len) + lt_words_for_bytes(cmdline_len);
    hello->header = lt_header_make(LT_REC_HELLO, total, 0);
    lt_wire_put_magic(hello->magic);
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
    hello->sample_bytes = sample_bytes;
    unsigned char *tail = (unsigned char *)(hello + 1);
    memcpy(tail, exe, exe_len);
    memcpy(tail + lt_words_for_bytes(exe_len) * 8, cmdline, cmdline_len);
    return total;
}
