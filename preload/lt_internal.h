/*
 * Internal interfaces of the leaktrack preload shim. Nothing here is exported from libleaktrack.so
 * (the library is built with -fvisibility=hidden); the only exported symbols are the one-line forwarders in
 * lt_exports.c.
 *
 * Parts, one file each:
 *   lt_config.c     the LEAKTRACK_* environment table, read once
 *   lt_diag.c       messages to stderr through write(2), never stdio
 *   lt_bootstrap.c  a static arena for the calls made while the real allocator is being looked up
 *   lt_ring.c       the process-wide ring buffer, in memory shared with the collector
 *   lt_stacks.c     stack capture and the lock-free table that turns stacks into ids
 *   lt_unwind.c     the fast unwinder (cached .eh_frame rules), with libunwind as its fallback
 *   lt_modules.c    module map snapshots (dl_iterate_phdr)
 *   lt_fds.c        descriptors the shim opens for a moment are kept out of the program's way
 *   lt_spawn.c      bare mode: starting a collector of our own
 *   lt_link.c       the link to the collector: HELLO, its liveness, fork's new link, end of stream
 *   lt_engine.c     lifecycle state machine and the replacement_* allocator functions
 *   lt_exec.c       the exec family: end this image's stream before it is replaced
 *   lt_exits.c      daemon and quick_exit, which leave through glibc's internal _exit
 *   lt_signals.c    fatal signals: end the stream, then die of the same signal
 */
#ifndef LT_INTERNAL_H
#define LT_INTERNAL_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "leaktrack_wire.h"

#define LT_LIKELY(x) __builtin_expect(!!(x), 1)
#define LT_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define LT_NOINLINE __attribute__((noinline))
#define LT_TLS __thread __attribute__((tls_model("initial-exec")))

/* ---- configuration (lt_config.c) ---- */

struct lt_config {
    int disabled;                 /* LEAKTRACK_DISABLE=1, or a secure-execution program */
    int quiet;                    /* LEAKTRACK_QUIET=1: no banner */
    uint32_t depth;               /* LEAKTRACK_DEPTH */
    int libunwind_only;           /* LEAKTRACK_UNWIND=libunwind: never the fast unwinder */
    uint32_t ring_log2;           /* the ring holds 2^ring_log2 words (LEAKTRACK_BUFFER_SIZE) */
    uint64_t stack_slots;         /* LEAKTRACK_MAX_STACKS * 2, a power of two */
    uint32_t exit_timeout_ms;     /* LEAKTRACK_EXIT_TIMEOUT */
    const char *socket_path;      /* LEAKTRACK_SOCKET: set by `leaktrack record` */
    const char *collector_path;   /* LEAKTRACK_COLLECTOR: the leaktrack executable for bare mode */
    const char *output_dir;       /* LEAKTRACK_OUTPUT_DIR: where bare mode writes traces */
};

extern struct lt_config lt_config;
void lt_config_load(void);

/* ---- diagnostics (lt_diag.c) ---- */

/* Writes "leaktrack: " + the pieces + "\n" to stderr with one write(2). Pieces end with NULL. */
void lt_diag(const char *first, ...) __attribute__((sentinel));
/* Formats an unsigned number into buf (at least 21 bytes); returns buf. */
char *lt_format_u64(uint64_t value, char *buf);
uint64_t lt_monotonic_ns(void);
uint64_t lt_realtime_ns(void);
void lt_sleep_ns(uint64_t ns);

/* ---- bootstrap arena (lt_bootstrap.c) ---- */

void *lt_bootstrap_alloc(size_t size, size_t alignment);
int lt_bootstrap_owns(const void *ptr);
size_t lt_bootstrap_size(const void *ptr);

/* ---- the shim's own descriptors (lt_fds.c) ---- */

/* Moves a new descriptor out of the program's way (a high number, close-on-exec); returns the new number. */
int lt_fd_move_high(int fd);

/* ---- ring (lt_ring.c) ---- */

/* The ring lives in shared memory (see leaktrack_wire.h); these point into the mapping. */
struct lt_ring {
    _Atomic uint64_t *write; /* next position to claim (words) */
    _Atomic uint64_t *read;  /* first position the collector has not consumed */
    _Atomic uint64_t *collector_state; /* LT_ACK_HELLO, LT_ACK_DONE: written by the collector */
    _Atomic uint64_t *collector_pid;
    _Atomic uint64_t *collector_pidns;
    _Atomic uint64_t *collector_beat;
    _Atomic uint64_t *wake;            /* counted up, and futex-woken, for the collector */
    _Atomic uint64_t *words;
    uint64_t mask;
    uint32_t log2;
    void *map;
    size_t map_size;
};

extern struct lt_ring lt_ring;

/* A new sealed memfd of the size a ring of 2^log2 words needs; -1 on failure. */
int lt_ring_create(uint32_t log2);
/* Maps that memfd as the ring (replacing any previous one, e.g. the parent's in a fork child). */
int lt_ring_map(int fd, uint32_t log2);
/* Throws away everything claimed so far: once nobody reads the ring, no producer may stay blocked on it. */
void lt_ring_discard(void);
/* Claims `words` words only if their space frees up once the collector has read up to `oldest`, then waits
 * for that; UINT64_MAX if it would need more. */
uint64_t lt_ring_claim_below(uint32_t words, uint64_t oldest);
/* Claims `words` consecutive words, waiting while the ring is full. Returns the position, or UINT64_MAX if
 * the collector is gone (the caller drops the record). Use lt_ring_claim, below. */
uint64_t lt_ring_claim_waiting(uint32_t words, uint64_t *claimed_at);
static inline void lt_ring_put(uint64_t pos, uint32_t index, uint64_t word) {
    atomic_store_explicit(&lt_ring.words[(pos + index) & lt_ring.mask], word, memory_order_relaxed);
}

/* Copies `bytes` bytes into the record at pos, starting at word `index`, zero-padding the last word. */
void lt_ring_put_bytes(uint64_t pos, uint32_t index, const void *data, uint32_t bytes);

/* ---- stacks (lt_stacks.c) ---- */

int lt_stacks_init(uint64_t slots);
/* A fresh table for a fork child; 0, or -1 if it cannot be mapped (the child then runs untracked). */
int lt_stacks_reset_after_fork(void);
void lt_stacks_set_self_range(uintptr_t lo, uintptr_t hi);
/* Captures the stack above the hook whose frame is `hook_frame` (NULL: above the caller) into the frame buffer
 * of nesting level `level`, and returns its id, emitting a STACK record the first time it is seen. */
uint32_t lt_stack_capture_id(const void *hook_frame, unsigned level);

/* ---- unwinder (lt_unwind.c) ---- */

int lt_unwind_init(void);
/* The calling thread's return addresses, innermost first, as unw_backtrace gives them; -1 when a frame
 * needs more than this unwinder follows (the caller then uses libunwind). With `frame`, the frame-pointer
 * frame of a function on the current stack (push rbp; mov rsp, rbp), the walk starts at that function's
 * return address and skips everything below it. */
int lt_unwind_backtrace(const void *frame, void **frames, int max);
/* Forgets every cached rule: after dlclose, the same code addresses may belong to other code. */
void lt_unwind_forget(void);

/* ---- modules (lt_modules.c) ---- */

/* Emits a module snapshot if the loader's object list changed since the last one. Called before a new
 * stack is emitted, so the collector always knows the modules a stack's frames point into. */
void lt_modules_refresh(void);
void lt_modules_reset_after_fork(void);
void lt_modules_lock_for_fork(void);
void lt_modules_unlock_after_fork(void);
/* Finds the [lo, hi) address range of the object that contains `address`; 0 on success. */
int lt_modules_object_range(const void *address, uintptr_t *lo, uintptr_t *hi);
/* Writes the main executable's path into buf (NUL-terminated); returns its length. */
uint32_t lt_executable_path(char *buf, uint32_t size);

/* ---- bare mode: a collector of our own (lt_spawn.c) ---- */

/* Starts `leaktrack collect` on a new private socket, whose path goes to `path`, and returns a connection to
 * it (the connection waits in the listener's backlog until the collector runs); -1 (said why) on failure. */
int lt_spawn_collector(char *path, size_t size);

/* ---- the link to the collector (lt_link.c) ---- */

/* A connection to the collector's socket at `path` (a full queue gets 2 s); -1 on failure. */
int lt_connect(const char *path);

/* Connects (LEAKTRACK_SOCKET, or a collector started here), sends HELLO with the ring's memfd `ring_fd` and
 * closes both. The memfd travels in the socket's queue, so every record published from now on reaches the
 * collector whatever happens to this process. 0, or -1 (said why). */
int lt_link_start(int ring_fd);
/* fork: the parent prepares the child's ring and connection (prepare), the parent drops them (parent), the
 * child maps and announces them (child: 0, or -1 if the child must run untracked). */
void lt_link_prepare_fork(void);
void lt_link_fork_parent(void);
int lt_link_fork_child(void);
/* After FINAL: wakes the collector and waits (bounded) until it has stored the trace. */
void lt_link_finish(void);
/* Wakes the collector if it sleeps (FINAL is out, or a producer waits for space). Async-signal-safe. */
void lt_link_wake_collector(void);
/* Whether the collector is gone: its process no longer exists, or it never answered, or went silent. */
int lt_link_collector_gone(void);
/* Marks the collector as gone for good. */
void lt_link_collector_lost(void);

/* ---- engine (lt_engine.c) ---- */

enum lt_lifecycle {
    LT_UNINITIALISED = 0,
    LT_INITIALISING = 1,
    LT_ENABLED = 2,
    LT_STOPPING = 3,
    LT_DISABLED = 4,
};

/* The lifecycle state lives alone in a page that every fork wipes (MADV_WIPEONFORK): a child made without
 * fork's handlers (_Fork, a raw clone or fork system call) reads 0 there, and so never writes into its
 * parent's ring. */
struct lt_state_page {
    _Atomic int state;
    char rest[4096 - sizeof(_Atomic int)];
};
extern struct lt_state_page lt_state_page;
#define lt_state (lt_state_page.state)

/* Rare events only: a shared counter per allocation would be a contended cache line. */
struct lt_counters {
    _Atomic uint64_t no_stack;
    _Atomic uint64_t stacks_dropped;
    _Atomic uint64_t bootstrap_allocs;
    _Atomic uint64_t failed_allocs;
    _Atomic uint64_t skipped_words;
};
extern struct lt_counters lt_counters;

/* Per-thread state: one TLS load per hook.
 *
 * Re-entrancy: a hook can be entered again on the same thread in two ways. The shim itself allocates
 * (libunwind on its first use in a thread; pthread and the loader inside it): that happens only inside
 * the `critical` parts, and such allocations are recorded without a stack. Or a signal handler that
 * allocates interrupts a hook: that allocation is the program's and gets its own stack, in the second slot
 * (`depth` counts the hooks in progress; deeper nesting is recorded without a stack). */
#define LT_MAX_NESTING 2
struct lt_thread {
    uint8_t depth;    /* hooks in progress on this thread */
    uint8_t critical; /* inside a part of the shim that must not be re-entered: libunwind, the module lock */
    uint8_t internal; /* the shim starting or forking: its calls pass straight through, never recorded */
    uint8_t claiming;    /* ring claims made but not yet published (see lt_ring_claim) */
    uint64_t claimed_at; /* the position of the oldest of them (until stored, the one before: never newer) */
    const void *hook_frame[LT_MAX_NESTING]; /* each hook's frame (frame pointer): unwinding starts there */
};
extern LT_TLS struct lt_thread lt_self;

/* Switches tracking off for good with one message (collector gone, ring stuck). */
void lt_disable(const char *why);
/* Ends tracking cleanly: FINAL record, flush, wait for the collector. Safe to call more than once. */
void lt_shutdown(uint64_t exit_status);
/* Ends tracking when this image is about to vanish (exec, a fatal signal): FINAL once the collector holds the
 * ring's mapping, which outlives the image, so the collector reads the rest on its own; no wait for it. */
void lt_shutdown_without_waiting(uint64_t exit_status);

/* ---- fatal signals (lt_signals.c) ---- */

/* Installs the crash handlers, on the signals whose action is still the default. */
void lt_signals_install(void);

void *lt_replacement_malloc(size_t size);
void *lt_replacement_calloc(size_t count, size_t size);
void *lt_replacement_realloc(void *ptr, size_t size);
void *lt_replacement_reallocarray(void *ptr, size_t count, size_t size);
void lt_replacement_free(void *ptr);
int lt_replacement_posix_memalign(void **out, size_t alignment, size_t size);
void *lt_replacement_aligned_alloc(size_t alignment, size_t size);
void *lt_replacement_memalign(size_t alignment, size_t size);
void *lt_replacement_valloc(size_t size);
void *lt_replacement_pvalloc(size_t size);
void lt_replacement_exit_now(int status) __attribute__((noreturn));
void lt_replacement_exit(int status) __attribute__((noreturn));
void lt_replacement_quick_exit(int status) __attribute__((noreturn));
int lt_replacement_daemon(int nochdir, int noclose);
int lt_replacement_dlclose(void *handle);
int lt_replacement_libc_start_main(int (*main)(int, char **, char **), int argc, char **argv, void (*init)(void),
                                   void (*fini)(void), void (*rtld_fini)(void), void *stack_end);

/* ---- exec (lt_exec.c) ---- */

/* Looks up the real exec functions (called while the shim starts). */
void lt_exec_init(void);
int lt_replacement_execve(const char *path, char *const argv[], char *const envp[]);
int lt_replacement_execv(const char *path, char *const argv[]);
int lt_replacement_execvp(const char *file, char *const argv[]);
int lt_replacement_execvpe(const char *file, char *const argv[], char *const envp[]);
int lt_replacement_fexecve(int fd, char *const argv[], char *const envp[]);
/* execl (search 0), execlp (search 1), execle (with_env 1): the list after arg0, up to its NULL. */
int lt_exec_list(const char *path, int search, int with_env, const char *arg0, va_list args);

/* Claims `words` consecutive words (see lt_ring_claim_waiting), and publishes them (lt_ring_publish). A signal
 * handler that claims while its thread holds a claim not yet published (it interrupted a hook between the
 * two) must not wait for space that only the collector reading past that very record would free: the
 * collector cannot pass it, and would give it up after 5 s, and the interrupted hook would then write into
 * space that is no longer its own. So such a claim is made only if its space frees up before the thread's
 * oldest unpublished record (it then waits as usual); else the record is dropped and its words are counted
 * as lost. Where that record's position is not stored yet (the handler came in the instant of the claim),
 * the position of the thread's claim before it stands in: older, so the bound is only stricter. */
static inline uint64_t lt_ring_claim(uint32_t words) {
    struct lt_thread *self = &lt_self;
    uint64_t pos;
    if (LT_UNLIKELY(self->claiming)) {
        pos = lt_ring_claim_below(words, self->claimed_at);
        if (pos == UINT64_MAX) {
            atomic_fetch_add_explicit(&lt_counters.skipped_words, words, memory_order_relaxed);
            return pos;
        }
        self->claiming++;
        return pos;
    }
    /* Counted before the claim itself: a handler that interrupts the wait for space must not wait too. */
    self->claiming = 1;
    atomic_signal_fence(memory_order_seq_cst);
    pos = lt_ring_claim_waiting(words, &self->claimed_at);
    if (LT_UNLIKELY(pos == UINT64_MAX)) self->claiming = 0;
    return pos;
}

/* Stores the header last, with release order: the collector reads a record only once its header is there. */
static inline void lt_ring_publish(uint64_t pos, uint32_t type, uint32_t words) {
    atomic_store_explicit(&lt_ring.words[pos & lt_ring.mask], lt_header_make(type, words, pos), memory_order_release);
    atomic_signal_fence(memory_order_seq_cst);
    lt_self.claiming--;
}

#endif /* LT_INTERNAL_H */
