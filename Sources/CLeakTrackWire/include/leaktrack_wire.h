/*
 * leaktrack wire format: the one definition shared by the preload shim (C) and the collector (Swift).
 *
 * Transport: the shim writes records into a ring buffer in shared memory (a memfd) and the collector maps
 * the same memory and reads them from there: no copy through the kernel per event. The Unix socket carries
 * only the HELLO record, with the memfd attached as SCM_RIGHTS and the sender's credentials (SCM_CREDENTIALS,
 * so the collector knows the process by a pid the kernel vouches for); the shim closes it right after.
 * A stream saved to a file (or produced by tests) is simply the records one after another.
 *
 * A stream is a sequence of records made of little-endian 64-bit words. Every record starts with one
 * header word:
 *
 *     bits  0..7   record type (enum lt_record_type)
 *     bits  8..23  record length in words, header included (1..65535)
 *     bits 24..63  position tag: the ring position (in words, modulo 2^40) at which the record was
 *                  claimed. The collector checks that tags follow each other exactly, so a lost or garbled
 *                  word is detected, never misread. HELLO, which travels over the socket, carries tag 0.
 *
 * The collector reads the ring in claim order, and the claim is one atomic increment, so
 * the stream is in the true process-wide order of events: a free is claimed before the real free() runs,
 * and an allocation after the real malloc() returns, so an address can never be seen reused ahead of its
 * own free, whatever thread frees it.
 *
 * The first record of every stream is HELLO (magic, version, pointer size, endianness, process identity).
 * A reader rejects a stream whose magic differs or whose version is newer than it knows.
 *
 * Variable-length payloads (strings, frame lists) follow the fixed part and are padded with zero bytes to
 * a whole word. Strings are not NUL-terminated on the wire; their byte length is in the fixed part.
 *
 * Each record's layout is its struct below; everything else is derived from the structs ("Word by word",
 * at the end), and every encoder and decoder, in C and in Swift, goes through these names: a record's name
 * found here is found wherever it is written or read.
 */
#ifndef LEAKTRACK_WIRE_H
#define LEAKTRACK_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define LT_WIRE_MAGIC      "LEAKTRK\0"
#define LT_WIRE_MAGIC_SIZE 8
/* 2: the link's state in the ring's header, sealed rings, no TICK from the shim (the records are those of 1).
 * 3: the allocating thread: THREAD records, and a thread ordinal in ALLOC and REALLOC_END (in bytes that were
 *    reserved, so always 0, before: a stream of 2 reads as one whose threads are all unknown).
 * 4: sampling: HELLO carries the mean bytes between sampled allocations (0: every allocation is recorded). Its
 *    fixed part grew by that word; a HELLO of 3 or older is 8 bytes shorter (LT_HELLO_V3_BYTES). FINAL's last
 *    word, reserved before, counts sampled blocks the shim's table had no room for. */
#define LT_WIRE_VERSION          4u
#define LT_WIRE_LIVE_MIN_VERSION 2u /* the oldest shim a collector can serve live; saved streams of 1 still decode */

/* Limits that bound every loop over wire data, on both sides. */
#define LT_MAX_RECORD_WORDS 65535u /* the length field is 16 bits */
#define LT_MAX_DEPTH        512u   /* deepest stack the shim can capture */
#define LT_MAX_SEGMENTS     16u    /* executable segments per module */
#define LT_MAX_BUILD_ID     64u    /* bytes of a GNU build id */
#define LT_MAX_PATH         4096u  /* bytes of a module or executable path */
#define LT_MAX_CMDLINE      16384u /* bytes of the NUL-separated command line */

#define LT_TAG_BITS 40u
#define LT_TAG_MASK ((UINT64_C(1) << LT_TAG_BITS) - 1u)

enum lt_record_type {
    LT_REC_HELLO = 1,         /* first record: who is talking (sent on the socket, not the ring) */
    LT_REC_MODULES_BEGIN = 2, /* a full module snapshot follows; it replaces the previous one */
    LT_REC_MODULE = 3,        /* one loaded object: path, load bias, build id, executable segments */
    LT_REC_MODULES_END = 4,   /* end of the snapshot */
    LT_REC_STACK = 5,         /* a new distinct call stack and its id */
    LT_REC_ALLOC = 6,         /* a block was allocated */
    LT_REC_FREE = 7,          /* a block is about to be freed */
    LT_REC_REALLOC_BEGIN = 8, /* realloc(ptr, ...) is about to run: ptr leaves the live set for now */
    LT_REC_REALLOC_END = 9,   /* realloc finished: the new block, or ptr restored if it failed */
    LT_REC_TICK = 10,         /* a clock and memory sample (from the collector since format 2; in saved streams) */
    LT_REC_SKIP = 11,         /* ring words never published, skipped by the reader (in saved streams only) */
    LT_REC_FINAL = 12,        /* clean end of the stream, with the shim's counters */
    LT_REC_THREAD = 13,       /* a thread's ordinal, before the first record that carries it (since format 3) */
};

/* How a block was obtained, carried in ALLOC and REALLOC_END. */
enum lt_alloc_kind {
    LT_KIND_MALLOC = 1,
    LT_KIND_CALLOC = 2,
    LT_KIND_REALLOC = 3,
    LT_KIND_REALLOCARRAY = 4,
    LT_KIND_POSIX_MEMALIGN = 5,
    LT_KIND_ALIGNED_ALLOC = 6,
    LT_KIND_MEMALIGN = 7,
    LT_KIND_VALLOC = 8,
    LT_KIND_PVALLOC = 9,
};

/* REALLOC_END status. */
enum lt_realloc_status {
    LT_REALLOC_DONE = 0,   /* the old block is gone; new_ptr (maybe 0 after realloc(p, 0)) is live */
    LT_REALLOC_FAILED = 1, /* nothing changed: the old block is live again */
};

/* Stack ids that are not stacks. LT_NO_STACK: the allocation was made while the shim itself was running (for
 * example libunwind's own first calloc in a thread); LT_DROPPED_STACK: the program's allocation, but its
 * stack did not fit in the stack table. Both are still counted. */
#define LT_NO_STACK      0u
#define LT_DROPPED_STACK 0xffffffffu

static inline uint64_t lt_header_make(uint32_t type, uint32_t words, uint64_t tag) {
    return (uint64_t)(type & 0xffu) | ((uint64_t)(words & 0xffffu) << 8) | ((tag & LT_TAG_MASK) << 24);
}
static inline uint32_t lt_header_type(uint64_t header) { return (uint32_t)(header & 0xffu); }
static inline uint32_t lt_header_words(uint64_t header) { return (uint32_t)((header >> 8) & 0xffffu); }
static inline uint64_t lt_header_tag(uint64_t header) { return header >> 24; }
static inline uint32_t lt_words_for_bytes(uint32_t bytes) { return (bytes + 7u) / 8u; }
/* A ring position as a header carries it. */
static inline uint64_t lt_tag(uint64_t position) { return position & LT_TAG_MASK; }

/* HELLO: sent by the shim on the socket before anything else. Followed by exe_len bytes of the
 * executable path, then cmdline_len bytes of the command line (arguments separated by NUL), each padded. */
struct lt_hello {
    uint64_t header;
    char magic[LT_WIRE_MAGIC_SIZE];
    uint32_t version;
    uint8_t pointer_size;  /* sizeof(void *) in the target */
    uint8_t little_endian; /* 1 */
    uint16_t flags;        /* LT_HELLO_* */
    uint32_t pid;
    uint32_t ppid;
    uint64_t realtime_ns;  /* CLOCK_REALTIME at start */
    uint64_t monotonic_ns; /* CLOCK_MONOTONIC at start: TICK times are on this clock */
    uint32_t max_depth;    /* configured stack depth */
    uint32_t exe_len;
    uint32_t cmdline_len;
    uint32_t ring_log2;    /* the shared ring holds 2^ring_log2 words */
    uint64_t sample_bytes; /* mean bytes between sampled allocations; 0: every allocation is recorded (v4) */
};
_Static_assert(sizeof(struct lt_hello) == 72, "lt_hello layout");
#define LT_HELLO_V3_BYTES 64u /* the fixed part of a HELLO of version 3 or older: up to ring_log2 */

#define LT_HELLO_FORKED 1u /* this process is a fork child of a traced process */

/* Whether the LT_WIRE_MAGIC_SIZE bytes at `bytes` are the magic; writes the magic there. */
static inline int lt_wire_has_magic(const void *bytes) { return memcmp(bytes, LT_WIRE_MAGIC, LT_WIRE_MAGIC_SIZE) == 0; }
static inline void lt_wire_put_magic(void *bytes) { memcpy(bytes, LT_WIRE_MAGIC, LT_WIRE_MAGIC_SIZE); }

/* The shared ring (the memfd sent with HELLO): a header page, then 2^ring_log2 words of records.
 * Positions count words from the start of the stream; a position p lives at word p mod capacity. */
#define LT_RING_MAGIC        "LTRING1"
#define LT_RING_HEADER_BYTES 4096u
#define LT_RING_OFFSET_WRITE 64u  /* uint64: next position producers will claim */
#define LT_RING_OFFSET_READ  128u /* uint64: first position the collector has not consumed */
/* The link's state, one word per cache line after the positions. The shim holds no descriptor once HELLO is
 * sent: everything it waits for is one of these words, written by the collector, and waits are futex waits on
 * them (the ring is shared memory, so a futex on it is shared between the two processes).
 *   COLLECTOR_STATE  LT_ACK_HELLO once the collector has mapped the ring, LT_ACK_DONE once it has read FINAL
 *                    (and, in bare mode, stored the trace); futex-woken when it changes
 *   COLLECTOR_PID    the collector's pid, and COLLECTOR_PIDNS the inode of its pid namespace: the pid means the
 *                    same to the shim only when the namespaces are the same
 *   COLLECTOR_BEAT   counts up every 100 ms while the collector serves this stream: a sign of life
 *   WAKE             the shim counts it up and futex-wakes the collector after FINAL, or when it waits for space */
#define LT_RING_OFFSET_COLLECTOR_STATE 192u
#define LT_RING_OFFSET_COLLECTOR_PID   256u
#define LT_RING_OFFSET_COLLECTOR_PIDNS 320u
#define LT_RING_OFFSET_COLLECTOR_BEAT  384u
#define LT_RING_OFFSET_WAKE            448u
#define LT_RING_MIN_LOG2               13u /* 64 KiB */
#define LT_RING_MAX_LOG2               27u /* 1 GiB */

/* MODULE: followed by nsegments lt_segment, then build_id_len bytes (padded), then path_len bytes (padded).
 * An empty path is a module without a file (the vdso). */
struct lt_module {
    uint64_t header;
    uint64_t bias; /* load bias (dlpi_addr): runtime address = ELF virtual address + bias */
    uint32_t path_len;
    uint16_t build_id_len;
    uint16_t nsegments;
};
_Static_assert(sizeof(struct lt_module) == 24, "lt_module layout");

struct lt_segment {
    uint64_t start; /* runtime addresses of an executable PT_LOAD segment: [start, end) */
    uint64_t end;
};
_Static_assert(sizeof(struct lt_segment) == 16, "lt_segment layout");

/* MODULES_BEGIN and MODULES_END carry the loader's generation counters (dlpi_adds, dlpi_subs). */
struct lt_modules_mark {
    uint64_t header;
    uint64_t adds;
    uint64_t subs;
};
_Static_assert(sizeof(struct lt_modules_mark) == 24, "lt_modules_mark layout");

/* STACK: followed by depth frame addresses, innermost first (the return address in the allocating
 * function's caller chain, starting just outside the shim). Ids are dense, from 1. */
struct lt_stack {
    uint64_t header;
    uint32_t id;
    uint32_t depth; /* frames that follow, with LT_STACK_TRUNCATED set when the stack went deeper */
};
#define LT_STACK_TRUNCATED 0x80000000u /* the stack was cut at LEAKTRACK_DEPTH frames */
_Static_assert(sizeof(struct lt_stack) == 16, "lt_stack layout");

struct lt_alloc {
    uint64_t header;
    uint32_t stack;
    uint8_t kind;
    uint8_t reserved;
    uint16_t thread; /* the allocating thread's ordinal (see THREAD), LT_THREAD_UNKNOWN or LT_THREAD_MANY */
    uint64_t ptr;
    uint64_t size;
};
_Static_assert(sizeof(struct lt_alloc) == 32, "lt_alloc layout");

/* FREE and REALLOC_BEGIN. */
struct lt_free {
    uint64_t header;
    uint64_t ptr;
};
_Static_assert(sizeof(struct lt_free) == 16, "lt_free layout");

struct lt_realloc_end {
    uint64_t header;
    uint64_t begin_tag; /* tag of the matching REALLOC_BEGIN */
    uint64_t new_ptr;
    uint64_t size;
    uint32_t stack;
    uint8_t status;  /* enum lt_realloc_status */
    uint8_t kind;    /* LT_KIND_REALLOC or LT_KIND_REALLOCARRAY */
    uint16_t thread; /* the reallocating thread's ordinal, as in ALLOC */
};
_Static_assert(sizeof(struct lt_realloc_end) == 40, "lt_realloc_end layout");

struct lt_tick {
    uint64_t header;
    uint64_t monotonic_ns;
    uint64_t rss_bytes; /* resident set size, 0 if unknown */
    uint64_t vm_bytes;  /* virtual size, 0 if unknown */
};
_Static_assert(sizeof(struct lt_tick) == 32, "lt_tick layout");

/* SKIP: ring words [from_tag, from_tag + words) were claimed but never published (a thread died or was
 * stopped mid-record) and the collector, reading the ring, gave up on them. Whatever they held is lost and
 * counted. */
struct lt_skip {
    uint64_t header;
    uint64_t from_tag;
    uint64_t words;
};
_Static_assert(sizeof(struct lt_skip) == 24, "lt_skip layout");

/* FINAL: the shim's counters at a clean end. A stream without FINAL ended abruptly (a killed process).
 * Allocation and free counts are not here: the collector counts the records themselves. */
struct lt_final {
    uint64_t header;
    uint64_t no_stack;         /* allocations recorded without a stack: made inside the shim itself */
    uint64_t stacks_dropped;   /* allocations whose stack did not fit in the stack table */
    uint64_t bootstrap_allocs; /* allocations served before the real allocator was found (not traced) */
    uint64_t failed_allocs;    /* allocation calls that returned NULL / an error */
    uint64_t skipped_words;    /* ring words lost to SKIP */
    uint64_t exit_status;      /* status passed to exit or _exit, or LT_EXIT_UNKNOWN */
    uint64_t samples_refused;  /* sampled blocks left unrecorded: the shim's table of them was full (v4; 0 before) */
};
_Static_assert(sizeof(struct lt_final) == 64, "lt_final layout");

#define LT_EXIT_UNKNOWN 0xffffffffffffffffu /* UINT64_MAX, spelled so that Swift imports it */

/* THREAD: names a thread's ordinal, the number ALLOC and REALLOC_END carry in their 16-bit `thread` field.
 * Ordinals belong to one stream (one process image: a fork child's stream numbers its threads afresh, the
 * forking thread included) and are dense from 1, in the order in which threads first allocate; the shim
 * writes a thread's THREAD record right then, before the first record that carries its ordinal, and never
 * again (one per ordinal). A thread that allocates after 65534 others got no ordinal: it is LT_THREAD_MANY,
 * which no THREAD record names. */
struct lt_thread {
    uint64_t header;
    uint32_t ordinal; /* 1..LT_THREAD_MANY - 1 */
    uint32_t tid;     /* the kernel's thread id (gettid) */
    char name[16];    /* the thread's name (comm, from prctl(PR_GET_NAME)) when it first allocated, NUL padded */
};
_Static_assert(sizeof(struct lt_thread) == 32, "lt_thread layout");

#define LT_THREAD_UNKNOWN   0u      /* the thread is not known: always so in streams of format 1 and 2 */
#define LT_THREAD_MANY      0xffffu /* a thread beyond the 65534 ordinals a stream can name */
#define LT_THREAD_NAME_SIZE 16u

/*
 * Word by word. The shim stores a record into the ring one 64-bit word at a time (atomic stores, the header
 * last) and the collector reads words, so both name a record's words by these indices, and the fields that
 * share a word by their bit shifts (little-endian: a field at byte b of its word is shifted by 8 * b). They
 * are computed from the structs above, so the structs stay the one layout; the asserts below check that every
 * field sits in one word where the encoders and decoders expect it.
 */
#define LT_WORD_OF(record, field)  (offsetof(struct record, field) / 8)
#define LT_SHIFT_OF(record, field) (offsetof(struct record, field) % 8 * 8)
#define LT_WORDS_OF(record)        (sizeof(struct record) / 8)
enum {
    LT_HELLO_WORDS = LT_WORDS_OF(lt_hello), /* the fixed part; the executable path and command line follow */
    LT_HELLO_MAGIC_OFFSET = offsetof(struct lt_hello, magic),     /* in bytes */
    LT_HELLO_VERSION_OFFSET = offsetof(struct lt_hello, version), /* in bytes */

    LT_MODULE_WORDS = LT_WORDS_OF(lt_module), /* the fixed part; segments, build id and path follow */
    LT_MODULE_WORD_BIAS = LT_WORD_OF(lt_module, bias),
    LT_MODULE_WORD_LENGTHS = LT_WORD_OF(lt_module, path_len), /* path_len | build_id_len | nsegments */
    LT_MODULE_BUILD_ID_LEN_SHIFT = LT_SHIFT_OF(lt_module, build_id_len),
    LT_MODULE_NSEGMENTS_SHIFT = LT_SHIFT_OF(lt_module, nsegments),
    LT_SEGMENT_WORDS = LT_WORDS_OF(lt_segment),
    LT_SEGMENT_WORD_START = LT_WORD_OF(lt_segment, start),
    LT_SEGMENT_WORD_END = LT_WORD_OF(lt_segment, end),

    LT_MODULES_MARK_WORDS = LT_WORDS_OF(lt_modules_mark),
    LT_MODULES_MARK_WORD_ADDS = LT_WORD_OF(lt_modules_mark, adds),
    LT_MODULES_MARK_WORD_SUBS = LT_WORD_OF(lt_modules_mark, subs),

    LT_STACK_WORDS = LT_WORDS_OF(lt_stack),      /* the fixed part; the frames follow, one word each */
    LT_STACK_WORD_ID = LT_WORD_OF(lt_stack, id), /* id | depth */
    LT_STACK_DEPTH_SHIFT = LT_SHIFT_OF(lt_stack, depth),

    LT_ALLOC_WORDS = LT_WORDS_OF(lt_alloc),
    LT_ALLOC_WORD_STACK = LT_WORD_OF(lt_alloc, stack), /* stack | kind */
    LT_ALLOC_KIND_SHIFT = LT_SHIFT_OF(lt_alloc, kind),
    LT_ALLOC_THREAD_SHIFT = LT_SHIFT_OF(lt_alloc, thread),
    LT_ALLOC_WORD_PTR = LT_WORD_OF(lt_alloc, ptr),
    LT_ALLOC_WORD_SIZE = LT_WORD_OF(lt_alloc, size),

    LT_FREE_WORDS = LT_WORDS_OF(lt_free),
    LT_FREE_WORD_PTR = LT_WORD_OF(lt_free, ptr),

    LT_REALLOC_END_WORDS = LT_WORDS_OF(lt_realloc_end),
    LT_REALLOC_END_WORD_BEGIN_TAG = LT_WORD_OF(lt_realloc_end, begin_tag),
    LT_REALLOC_END_WORD_NEW_PTR = LT_WORD_OF(lt_realloc_end, new_ptr),
    LT_REALLOC_END_WORD_SIZE = LT_WORD_OF(lt_realloc_end, size),
    LT_REALLOC_END_WORD_STACK = LT_WORD_OF(lt_realloc_end, stack), /* stack | status | kind */
    LT_REALLOC_END_STATUS_SHIFT = LT_SHIFT_OF(lt_realloc_end, status),
    LT_REALLOC_END_KIND_SHIFT = LT_SHIFT_OF(lt_realloc_end, kind),
    LT_REALLOC_END_THREAD_SHIFT = LT_SHIFT_OF(lt_realloc_end, thread),

    LT_TICK_WORDS = LT_WORDS_OF(lt_tick),
    LT_TICK_WORD_MONOTONIC_NS = LT_WORD_OF(lt_tick, monotonic_ns),
    LT_TICK_WORD_RSS_BYTES = LT_WORD_OF(lt_tick, rss_bytes),
    LT_TICK_WORD_VM_BYTES = LT_WORD_OF(lt_tick, vm_bytes),

    LT_SKIP_WORDS = LT_WORDS_OF(lt_skip),
    LT_SKIP_WORD_FROM_TAG = LT_WORD_OF(lt_skip, from_tag),
    LT_SKIP_WORD_WORDS = LT_WORD_OF(lt_skip, words),

    LT_FINAL_WORDS = LT_WORDS_OF(lt_final),
    LT_FINAL_WORD_NO_STACK = LT_WORD_OF(lt_final, no_stack),
    LT_FINAL_WORD_STACKS_DROPPED = LT_WORD_OF(lt_final, stacks_dropped),
    LT_FINAL_WORD_BOOTSTRAP_ALLOCS = LT_WORD_OF(lt_final, bootstrap_allocs),
    LT_FINAL_WORD_FAILED_ALLOCS = LT_WORD_OF(lt_final, failed_allocs),
    LT_FINAL_WORD_SKIPPED_WORDS = LT_WORD_OF(lt_final, skipped_words),
    LT_FINAL_WORD_EXIT_STATUS = LT_WORD_OF(lt_final, exit_status),
    LT_FINAL_WORD_SAMPLES_REFUSED = LT_WORD_OF(lt_final, samples_refused),

    LT_THREAD_WORDS = LT_WORDS_OF(lt_thread),
    LT_THREAD_WORD_ORDINAL = LT_WORD_OF(lt_thread, ordinal), /* ordinal | tid */
    LT_THREAD_TID_SHIFT = LT_SHIFT_OF(lt_thread, tid),
    LT_THREAD_WORD_NAME = LT_WORD_OF(lt_thread, name), /* the name's bytes, in the words from here */
};
/* The fields that share a word start it or follow each other within it, and the wider ones are whole words. */
_Static_assert(LT_SHIFT_OF(lt_module, path_len) == 0 && LT_WORD_OF(lt_module, build_id_len) == LT_MODULE_WORD_LENGTHS &&
                   LT_WORD_OF(lt_module, nsegments) == LT_MODULE_WORD_LENGTHS,
               "MODULE's lengths share one word");
_Static_assert(LT_SHIFT_OF(lt_stack, id) == 0 && LT_WORD_OF(lt_stack, depth) == LT_STACK_WORD_ID,
               "STACK's id and depth");
_Static_assert(LT_SHIFT_OF(lt_alloc, stack) == 0 && LT_WORD_OF(lt_alloc, kind) == LT_ALLOC_WORD_STACK &&
                   LT_WORD_OF(lt_alloc, thread) == LT_ALLOC_WORD_STACK,
               "ALLOC's stack, kind and thread share one word");
_Static_assert(LT_SHIFT_OF(lt_realloc_end, stack) == 0 &&
                   LT_WORD_OF(lt_realloc_end, status) == LT_REALLOC_END_WORD_STACK &&
                   LT_WORD_OF(lt_realloc_end, kind) == LT_REALLOC_END_WORD_STACK &&
                   LT_WORD_OF(lt_realloc_end, thread) == LT_REALLOC_END_WORD_STACK,
               "REALLOC_END's stack, status, kind and thread share one word");
_Static_assert(LT_SHIFT_OF(lt_thread, ordinal) == 0 && LT_WORD_OF(lt_thread, tid) == LT_THREAD_WORD_ORDINAL,
               "THREAD's ordinal and tid share one word");
_Static_assert(LT_SHIFT_OF(lt_thread, name) == 0 && sizeof(((struct lt_thread *)0)->name) == LT_THREAD_NAME_SIZE &&
                   LT_THREAD_WORD_NAME + LT_THREAD_NAME_SIZE / 8 == LT_THREAD_WORDS,
               "THREAD's name fills its last words");
_Static_assert(LT_SHIFT_OF(lt_alloc, ptr) == 0 && LT_SHIFT_OF(lt_alloc, size) == 0 && LT_SHIFT_OF(lt_free, ptr) == 0 &&
                   LT_SHIFT_OF(lt_realloc_end, begin_tag) == 0 && LT_SHIFT_OF(lt_realloc_end, new_ptr) == 0 &&
                   LT_SHIFT_OF(lt_realloc_end, size) == 0 && LT_SHIFT_OF(lt_module, bias) == 0,
               "whole-word fields start their words");
_Static_assert(LT_HELLO_MAGIC_OFFSET == 8, "HELLO's magic follows its header");

/* Values of the ring's collector-state word. */
enum lt_collector_state {
    LT_ACK_HELLO = 'H', /* the collector accepted the stream and maps its ring */
    LT_ACK_DONE = 'D',  /* the collector has stored everything up to FINAL; the shim may let the process end */
};

#endif /* LEAKTRACK_WIRE_H */
