/*
 * The engine: lifecycle and the replacement allocator functions that lt_exports.c forwards to.
 *
 * Lifecycle is one atomic state: UNINITIALISED -> INITIALISING -> ENABLED -> STOPPING -> DISABLED.
 * The first hook call (often before our constructor runs) or the constructor starts initialisation; fork
 * children restart tracking on a connection of their own; exit, _exit and the destructor end it with a FINAL
 * record and a flush.
 *
 * Hot path (state ENABLED): one relaxed load of the state, one TLS access for the per-thread flags, the real
 * call, then for an allocation a stack capture and a 4-word ring record, for a free a 2-word ring record made
 * *before* the real free (so the address cannot be handed out again ahead of its own free). No lock, no
 * system call, no allocation.
 *
 * Re-entrancy (see struct lt_thread): the shim's own nested allocations (libunwind's, on its first use in a
 * thread) are still recorded, with LT_NO_STACK, and so are their frees, so the books always balance; a signal
 * handler that allocates while a hook runs gets a stack of its own.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lt_internal.h"

struct lt_state_page lt_state_page __attribute__((aligned(4096)));
/* Set once tracking has started in this image; unlike lt_state, a fork does not wipe it. */
static int lt_started;
/* The state when this thread last called fork, for the handlers (the child's copy of lt_state is wiped). */
static LT_TLS int lt_forking_state;
struct lt_counters lt_counters;
LT_TLS struct lt_thread lt_self;

static _Atomic uint64_t lt_exit_status = LT_EXIT_UNKNOWN;
/* The process the current stream belongs to. A vfork child shares our memory but is another process: it
 * must not end the parent's stream when it calls _exit. */
static pid_t lt_pid;

typedef int (*lt_main_fn)(int, char **, char **);
typedef int (*lt_start_main_fn)(lt_main_fn, int, char **, void (*)(void), void (*)(void), void (*)(void), void *);

/* The real allocator, found with dlsym(RTLD_NEXT): the next definition after ours, which also works when
 * another allocator (jemalloc, tcmalloc) is preloaded too. Published all at once through lt_real_ready. */
struct lt_real_functions {
    void *(*malloc)(size_t);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    void *(*reallocarray)(void *, size_t, size_t);
    void (*free)(void *);
    int (*posix_memalign)(void **, size_t, size_t);
    void *(*aligned_alloc)(size_t, size_t);
    void *(*memalign)(size_t, size_t);
    void *(*valloc)(size_t);
    void *(*pvalloc)(size_t);
    void (*exit_now)(int);
    void (*exit)(int);
    int (*dlclose)(void *);
    lt_start_main_fn start_main; /* __libc_start_main; NULL outside glibc */
    void (*quick_exit)(int);
};
static struct lt_real_functions lt_real;
static _Atomic int lt_real_ready;

/* How a hook proceeds. LT_LEVEL_0 + n: record with a stack, at nesting level n (a signal handler's
 * allocation interrupting a hook is level 1). */
enum lt_mode {
    LT_UNTRACKED = 0, /* pass through: not initialised yet, stopped, or the shim's own work (start, fork) */
    LT_NESTED = 1,    /* called from inside the shim (libunwind): record without a stack */
    LT_LEVEL_0 = 2,
};

/* ---------------------------------------------------------------------------------------------------- */
/* start-up */

static void lt_resolve_real(void) {
    struct lt_real_functions r;
    r.malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
    r.calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
    r.realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
    r.reallocarray = (void *(*)(void *, size_t, size_t))dlsym(RTLD_NEXT, "reallocarray");
    r.free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
    r.posix_memalign = (int (*)(void **, size_t, size_t))dlsym(RTLD_NEXT, "posix_memalign");
    r.aligned_alloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "aligned_alloc");
    r.memalign = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "memalign");
    r.valloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "valloc");
    r.pvalloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "pvalloc");
    r.exit_now = (void (*)(int))dlsym(RTLD_NEXT, "_exit");
    r.exit = (void (*)(int))dlsym(RTLD_NEXT, "exit");
    r.dlclose = (int (*)(void *))dlsym(RTLD_NEXT, "dlclose");
    r.start_main = (lt_start_main_fn)dlsym(RTLD_NEXT, "__libc_start_main");
    r.quick_exit = (void (*)(int))dlsym(RTLD_NEXT, "quick_exit");
    if (!r.malloc || !r.calloc || !r.realloc || !r.free || !r.posix_memalign || !r.memalign || !r.exit_now ||
        !r.exit || !r.dlclose || !r.quick_exit) {
        lt_diag("cannot find the C library's allocator; leaktrack cannot run in this process", NULL);
        /* Without a real allocator there is nothing to forward to: the program cannot continue sanely. */
        _Exit(127);
    }
    lt_real = r;
    atomic_store_explicit(&lt_real_ready, 1, memory_order_release);
}

/* fork: the child gets a stream of its own. Its ring and its connection are made here, in the parent, so
 * that the child only maps and announces them: no round trip to the collector per fork, and the collector
 * has the child's connection in its queue before the parent can exit. */
static void lt_fork_prepare(void) {
    lt_forking_state = atomic_load(&lt_state);
    if (lt_forking_state != LT_ENABLED) return;
    uint8_t was_internal = lt_self.internal;
    lt_self.internal = 1;
    lt_link_prepare_fork();
    lt_self.internal = was_internal;
    lt_modules_lock_for_fork();
}

static void lt_fork_parent(void) {
    if (lt_forking_state != LT_ENABLED) return;
    lt_modules_unlock_after_fork();
    lt_link_fork_parent();
}

static void lt_fork_child(void) {
    if (lt_forking_state != LT_ENABLED) {
        atomic_store(&lt_state, LT_DISABLED);
        return;
    }
    lt_modules_unlock_after_fork();
    uint8_t was_internal = lt_self.internal;
    lt_self.internal = 1; /* the link's start-up allocations are the shim's, not the program's */
    lt_self.claimed_at = 0; /* positions start again in the child's own ring */
    atomic_store(&lt_state, LT_INITIALISING);
    int stacks = lt_stacks_reset_after_fork();
    lt_modules_reset_after_fork();
    memset(&lt_counters, 0, sizeof lt_counters);
    atomic_store(&lt_exit_status, LT_EXIT_UNKNOWN);
    lt_pid = getpid();
    if (stacks != 0 || lt_link_fork_child() != 0) {
        atomic_store(&lt_state, LT_DISABLED);
        lt_diag("the fork child cannot reach the collector; it runs untracked", NULL);
    } else {
        atomic_store(&lt_state, LT_ENABLED);
    }
    lt_self.internal = was_internal;
}

static LT_NOINLINE void lt_init(void) {
    int expected = LT_UNINITIALISED;
    if (!atomic_compare_exchange_strong(&lt_state, &expected, LT_INITIALISING)) return;
    lt_self.internal = 1; /* everything allocated while starting is the shim's own */
    lt_resolve_real();
    lt_exec_init();
    lt_config_load();
    if (lt_config.disabled) {
        atomic_store(&lt_state, LT_DISABLED);
        lt_self.internal = 0;
        return;
    }
    uintptr_t lo, hi;
    int ring_fd = lt_ring_create(lt_config.ring_log2);
    if (ring_fd < 0 || lt_ring_map(ring_fd, lt_config.ring_log2) != 0 || lt_stacks_init(lt_config.stack_slots) != 0 ||
        lt_unwind_init() != 0) {
        if (ring_fd >= 0) close(ring_fd);
        lt_diag("cannot create the shared event ring (memfd_create, mmap); the program runs untracked", NULL);
        atomic_store(&lt_state, LT_DISABLED);
        lt_self.internal = 0;
        return;
    }
    if (lt_modules_object_range((const void *)lt_init, &lo, &hi) == 0) lt_stacks_set_self_range(lo, hi);
    pthread_atfork(lt_fork_prepare, lt_fork_parent, lt_fork_child);
    lt_signals_install();
    lt_pid = getpid();
    /* Where the kernel cannot wipe the page (before 4.14), a child made without fork's handlers is not
     * detected; every other fork is. */
    madvise(&lt_state_page, sizeof lt_state_page, MADV_WIPEONFORK);
    lt_started = 1;
    atomic_store(&lt_state, LT_ENABLED);
    if (lt_link_start(ring_fd) != 0) lt_disable(NULL); /* lt_link_start said why */
    lt_self.internal = 0;
}

__attribute__((constructor)) static void lt_constructor(void) { lt_init(); }

__attribute__((destructor)) static void lt_destructor(void) { lt_shutdown(atomic_load(&lt_exit_status)); }

/* ---------------------------------------------------------------------------------------------------- */
/* end */

void lt_disable(const char *why) {
    int state = atomic_load(&lt_state);
    while (state == LT_ENABLED || state == LT_STOPPING) {
        if (atomic_compare_exchange_weak(&lt_state, &state, LT_DISABLED)) {
            if (why != NULL) lt_diag(why, NULL);
            return;
        }
    }
}

/* Publishes FINAL with the loss counters; returns the position after it, or UINT64_MAX. */
static uint64_t lt_publish_final(uint64_t exit_status) {
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

/* Ends the stream once, in this process only (never from a vfork child, which has another pid). */
static void lt_stop(uint64_t exit_status, int vanishing) {
    if (atomic_load(&lt_state) != LT_ENABLED || getpid() != lt_pid) return;
    int expected = LT_ENABLED;
    if (!atomic_compare_exchange_strong(&lt_state, &expected, LT_STOPPING)) return;
    uint8_t was_internal = lt_self.internal;
    lt_self.internal = 1;
    /* Vanishing (exec, a fatal signal): the collector holds the ring's memfd (or has it queued with HELLO)
     * and reads the rest from its own mapping; nothing to wait for. */
    if (lt_publish_final(exit_status) != UINT64_MAX) {
        if (vanishing) {
            lt_link_wake_collector();
        } else {
            lt_link_finish();
        }
    }
    expected = LT_STOPPING;
    atomic_compare_exchange_strong(&lt_state, &expected, LT_DISABLED);
    lt_self.internal = was_internal;
}

void lt_shutdown(uint64_t exit_status) { lt_stop(exit_status, 0); }

void lt_shutdown_without_waiting(uint64_t exit_status) { lt_stop(exit_status, 1); }

void lt_replacement_exit_now(int status) {
    lt_shutdown((uint64_t)(unsigned)status & 0xff);
    if (!atomic_load(&lt_real_ready)) lt_resolve_real();
    lt_real.exit_now(status);
    __builtin_unreachable();
}

int lt_replacement_dlclose(void *handle) {
    if (!atomic_load(&lt_real_ready)) lt_init();
    /* The library's code addresses may be given to another library: the unwinder's cached rules go, before
     * (another thread may map new code there before we return) and after (rules derived meanwhile). */
    lt_unwind_forget();
    int result = lt_real.dlclose(handle);
    lt_unwind_forget();
    return result;
}

/* Returning from main: glibc calls its internal exit, which our exported exit never sees. An on_exit handler
 * registered at the start of main runs before the loader's exit handler (registered before main), and so
 * before our destructor ends the stream, on every path through exit: return from main, exit() called
 * inside the C library (error(), ...), and the program's own exit(). */
static lt_main_fn lt_program_main;

static void lt_note_exit_status(int status, void *unused) {
    (void)unused;
    atomic_store(&lt_exit_status, (uint64_t)(unsigned)status & 0xff);
}

/* quick_exit runs no destructors: ours ends the stream after the program's own at_quick_exit handlers. */
static void lt_on_quick_exit(void) { lt_shutdown(atomic_load(&lt_exit_status)); }

static int lt_main_wrapper(int argc, char **argv, char **envp) {
    on_exit(lt_note_exit_status, NULL);
    at_quick_exit(lt_on_quick_exit);
    return lt_program_main(argc, argv, envp);
}

void lt_replacement_quick_exit(int status) {
    atomic_store(&lt_exit_status, (uint64_t)(unsigned)status & 0xff);
    if (!atomic_load(&lt_real_ready)) lt_init();
    lt_real.quick_exit(status);
    __builtin_unreachable();
}

int lt_replacement_libc_start_main(int (*main)(int, char **, char **), int argc, char **argv, void (*init)(void),
                                   void (*fini)(void), void (*rtld_fini)(void), void *stack_end) {
    if (!atomic_load(&lt_real_ready)) lt_init();
    if (!atomic_load(&lt_real_ready)) lt_resolve_real();
    lt_program_main = main;
    return lt_real.start_main(lt_main_wrapper, argc, argv, init, fini, rtld_fini, stack_end);
}

void lt_replacement_exit(int status) {
    /* Only remember the status: exit() runs the destructors, and ours ends tracking after the program's. */
    atomic_store(&lt_exit_status, (uint64_t)(unsigned)status & 0xff);
    if (!atomic_load(&lt_real_ready)) lt_init();
    lt_real.exit(status);
    __builtin_unreachable();
}

/* ---------------------------------------------------------------------------------------------------- */
/* recording */

static inline int lt_enter_tracked(struct lt_thread *self, const void *frame) {
    if (LT_UNLIKELY(self->critical)) return LT_NESTED;
    unsigned level = self->depth;
    if (LT_UNLIKELY(level >= LT_MAX_NESTING)) return LT_NESTED;
    self->depth = (uint8_t)(level + 1);
    /* A signal handler on this thread sees depth raised before the frame slot is used. */
    atomic_signal_fence(memory_order_seq_cst);
    self->hook_frame[level] = frame;
    return LT_LEVEL_0 + (int)level;
}

static LT_NOINLINE int lt_enter_slow(const void *frame) {
    if (atomic_load(&lt_state) == LT_UNINITIALISED) {
        /* Wiped by a fork that ran no handlers of ours (_Fork, a raw system call): this child has no stream of
         * its own, and its parent's ring is not its to write. It runs untracked. */
        if (lt_started) {
            int expected = LT_UNINITIALISED;
            atomic_compare_exchange_strong(&lt_state, &expected, LT_DISABLED);
            return LT_UNTRACKED;
        }
        lt_init();
    }
    if (atomic_load(&lt_state) != LT_ENABLED || lt_self.internal) return LT_UNTRACKED;
    return lt_enter_tracked(&lt_self, frame);
}

static inline int lt_enter_at(const void *frame) {
    if (LT_UNLIKELY(atomic_load_explicit(&lt_state, memory_order_relaxed) != LT_ENABLED)) return lt_enter_slow(frame);
    struct lt_thread *self = &lt_self;
    if (LT_UNLIKELY(self->internal)) return LT_UNTRACKED;
    return lt_enter_tracked(self, frame);
}

/* In a replacement function: its frame (the shim is built with frame pointers) is where unwinding starts. */
#define lt_enter() lt_enter_at(__builtin_frame_address(0))

static inline void lt_leave(int mode) {
    if (mode >= LT_LEVEL_0) {
        atomic_signal_fence(memory_order_seq_cst);
        lt_self.depth = (uint8_t)(mode - LT_LEVEL_0);
    }
}

static uint32_t lt_stack_for(int mode) {
    if (mode >= LT_LEVEL_0) {
        unsigned level = (unsigned)(mode - LT_LEVEL_0);
        return lt_stack_capture_id(lt_self.hook_frame[level], level);
    }
    atomic_fetch_add_explicit(&lt_counters.no_stack, 1, memory_order_relaxed);
    return LT_NO_STACK;
}

static void lt_note_alloc(void *ptr, size_t size, uint8_t kind, int mode) {
    if (LT_UNLIKELY(ptr == NULL)) {
        atomic_fetch_add_explicit(&lt_counters.failed_allocs, 1, memory_order_relaxed);
        return;
    }
    uint32_t stack = lt_stack_for(mode);
    uint64_t pos = lt_ring_claim(4);
    if (LT_UNLIKELY(pos == UINT64_MAX)) return;
    lt_ring_put(pos, 1, (uint64_t)stack | ((uint64_t)kind << 32));
    lt_ring_put(pos, 2, (uint64_t)(uintptr_t)ptr);
    lt_ring_put(pos, 3, (uint64_t)size);
    lt_ring_publish(pos, LT_REC_ALLOC, 4);
}

static inline void lt_note_free(void *ptr, uint32_t type, uint64_t *pos_out) {
    uint64_t pos = lt_ring_claim(2);
    if (pos_out) *pos_out = pos;
    if (LT_UNLIKELY(pos == UINT64_MAX)) return;
    lt_ring_put(pos, 1, (uint64_t)(uintptr_t)ptr);
    lt_ring_publish(pos, type, 2);
}

static void lt_note_realloc_end(uint64_t begin, void *old, void *ptr, size_t size, uint8_t kind, int mode) {
    if (old == NULL) {
        lt_note_alloc(ptr, size, kind, mode);
        return;
    }
    if (begin == UINT64_MAX) return;
    int failed = ptr == NULL && size != 0;
    if (failed) atomic_fetch_add_explicit(&lt_counters.failed_allocs, 1, memory_order_relaxed);
    uint32_t stack = ptr != NULL ? lt_stack_for(mode) : LT_NO_STACK;
    uint64_t pos = lt_ring_claim(5);
    if (LT_UNLIKELY(pos == UINT64_MAX)) return;
    lt_ring_put(pos, 1, begin & LT_TAG_MASK);
    lt_ring_put(pos, 2, (uint64_t)(uintptr_t)ptr);
    lt_ring_put(pos, 3, failed ? 0 : (uint64_t)size);
    lt_ring_put(pos, 4, (uint64_t)stack | ((uint64_t)(failed ? LT_REALLOC_FAILED : LT_REALLOC_DONE) << 32) |
                            ((uint64_t)kind << 40));
    lt_ring_publish(pos, LT_REC_REALLOC_END, 5);
}

/* ---------------------------------------------------------------------------------------------------- */
/* the replacement functions */

static void *lt_untracked_alloc(size_t size, size_t alignment, int zero) {
    if (!atomic_load_explicit(&lt_real_ready, memory_order_acquire)) return lt_bootstrap_alloc(size, alignment);
    if (alignment <= 16) return zero ? lt_real.calloc(1, size) : lt_real.malloc(size);
    return lt_real.memalign(alignment, size);
}

void *lt_replacement_malloc(size_t size) {
    int mode = lt_enter();
    if (LT_UNLIKELY(mode == LT_UNTRACKED)) return lt_untracked_alloc(size, 16, 0);
    void *ptr = lt_real.malloc(size);
    lt_note_alloc(ptr, size, LT_KIND_MALLOC, mode);
    lt_leave(mode);
    return ptr;
}

void *lt_replacement_calloc(size_t count, size_t size) {
    int mode = lt_enter();
    if (LT_UNLIKELY(mode == LT_UNTRACKED)) {
        size_t total;
        if (__builtin_mul_overflow(count, size, &total)) {
            errno = ENOMEM;
            return NULL;
        }
        return lt_untracked_alloc(total, 16, 1);
    }
    void *ptr = lt_real.calloc(count, size);
    lt_note_alloc(ptr, count * size, LT_KIND_CALLOC, mode);
    lt_leave(mode);
    return ptr;
}

void lt_replacement_free(void *ptr) {
    if (ptr == NULL) return;
    if (LT_UNLIKELY(lt_bootstrap_owns(ptr))) return;
    if (LT_LIKELY(atomic_load_explicit(&lt_state, memory_order_relaxed) == LT_ENABLED) && !lt_self.internal)
        lt_note_free(ptr, LT_REC_FREE, NULL);
    if (LT_UNLIKELY(!atomic_load_explicit(&lt_real_ready, memory_order_acquire))) return;
    lt_real.free(ptr);
}

/* realloc and reallocarray: the old block leaves the live set before the real call (REALLOC_BEGIN), and
 * REALLOC_END says what became of it: a new block (maybe at the same address), nothing after realloc(p, 0),
 * or, if the call failed, the old block restored. */
static void *lt_realloc_common(void *ptr, size_t count, size_t size, uint8_t kind) {
    size_t total;
    int overflow = __builtin_mul_overflow(count, size, &total);
    if (LT_UNLIKELY(ptr != NULL && lt_bootstrap_owns(ptr))) {
        /* Move a bootstrap block into the real heap; the arena block is never reused. */
        if (overflow) {
            errno = ENOMEM;
            return NULL;
        }
        void *moved = lt_replacement_malloc(total);
        if (moved != NULL) {
            size_t old = lt_bootstrap_size(ptr);
            memcpy(moved, ptr, old < total ? old : total);
        }
        return moved;
    }
    int mode = lt_enter();
    if (LT_UNLIKELY(mode == LT_UNTRACKED)) {
        if (!atomic_load_explicit(&lt_real_ready, memory_order_acquire)) {
            if (overflow) {
                errno = ENOMEM;
                return NULL;
            }
            return lt_bootstrap_alloc(total, 16);
        }
        if (kind == LT_KIND_REALLOCARRAY && lt_real.reallocarray) return lt_real.reallocarray(ptr, count, size);
        if (overflow) {
            errno = ENOMEM;
            return NULL;
        }
        return lt_real.realloc(ptr, total);
    }
    uint64_t begin = UINT64_MAX;
    if (ptr != NULL) lt_note_free(ptr, LT_REC_REALLOC_BEGIN, &begin);
    void *result;
    if (kind == LT_KIND_REALLOCARRAY && lt_real.reallocarray) {
        result = lt_real.reallocarray(ptr, count, size);
    } else if (overflow) {
        errno = ENOMEM;
        result = NULL;
    } else {
        result = lt_real.realloc(ptr, total);
    }
    lt_note_realloc_end(begin, ptr, result, overflow ? SIZE_MAX : total, kind, mode);
    lt_leave(mode);
    return result;
}

void *lt_replacement_realloc(void *ptr, size_t size) { return lt_realloc_common(ptr, 1, size, LT_KIND_REALLOC); }

void *lt_replacement_reallocarray(void *ptr, size_t count, size_t size) {
    return lt_realloc_common(ptr, count, size, LT_KIND_REALLOCARRAY);
}

int lt_replacement_posix_memalign(void **out, size_t alignment, size_t size) {
    int mode = lt_enter();
    if (LT_UNLIKELY(mode == LT_UNTRACKED)) {
        if (atomic_load_explicit(&lt_real_ready, memory_order_acquire))
            return lt_real.posix_memalign(out, alignment, size);
        if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) return EINVAL;
        *out = lt_bootstrap_alloc(size, alignment);
        return *out ? 0 : ENOMEM;
    }
    int rc = lt_real.posix_memalign(out, alignment, size);
    lt_note_alloc(rc == 0 ? *out : NULL, size, LT_KIND_POSIX_MEMALIGN, mode);
    lt_leave(mode);
    return rc;
}

/* The aligned family differs only in the real function and the kind recorded. */
static inline void *lt_aligned_common(void *(*real)(size_t, size_t), size_t alignment, size_t size, uint8_t kind) {
    int mode = lt_enter();
    if (LT_UNLIKELY(mode == LT_UNTRACKED)) {
        if (atomic_load_explicit(&lt_real_ready, memory_order_acquire)) return real(alignment, size);
        return lt_bootstrap_alloc(size, alignment);
    }
    void *ptr = real(alignment, size);
    lt_note_alloc(ptr, size, kind, mode);
    lt_leave(mode);
    return ptr;
}

static void *lt_call_valloc(size_t alignment, size_t size) {
    return lt_real.valloc ? lt_real.valloc(size) : lt_real.memalign(alignment, size);
}

static void *lt_call_pvalloc(size_t alignment, size_t size) {
    if (lt_real.pvalloc) return lt_real.pvalloc(size);
    return lt_real.memalign(alignment, (size + alignment - 1) & ~(alignment - 1));
}

static void *lt_call_aligned_alloc(size_t alignment, size_t size) {
    return lt_real.aligned_alloc ? lt_real.aligned_alloc(alignment, size) : lt_real.memalign(alignment, size);
}

static void *lt_call_memalign(size_t alignment, size_t size) { return lt_real.memalign(alignment, size); }

void *lt_replacement_aligned_alloc(size_t alignment, size_t size) {
    return lt_aligned_common(lt_call_aligned_alloc, alignment, size, LT_KIND_ALIGNED_ALLOC);
}

void *lt_replacement_memalign(size_t alignment, size_t size) {
    return lt_aligned_common(lt_call_memalign, alignment, size, LT_KIND_MEMALIGN);
}

void *lt_replacement_valloc(size_t size) {
    return lt_aligned_common(lt_call_valloc, (size_t)sysconf(_SC_PAGESIZE), size, LT_KIND_VALLOC);
}

void *lt_replacement_pvalloc(size_t size) {
    return lt_aligned_common(lt_call_pvalloc, (size_t)sysconf(_SC_PAGESIZE), size, LT_KIND_PVALLOC);
}
