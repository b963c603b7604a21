/*
 * The hooks: the malloc family's replacement functions, which lt_exports.c forwards to (and the C unit tests
 * call directly), and dlclose's.
 *
 * Hot path (state ENABLED): one relaxed load of the state, one TLS access for the per-thread flags, the real
 * call, then for an allocation a stack capture and a 4-word ring record, for a free a 2-word ring record made
 * *before* the real free (so the address cannot be handed out again ahead of its own free). No lock, no
 * system call, no allocation. The slow part (starting, a state other than ENABLED) is behind an unlikely
 * branch in a function of its own (lt_enter_slow), and the record encoders (lt_records.h) are inline.
 *
 * Sampling (lt_sampler.h): an allocation the thread's countdown passes over goes straight to the real function,
 * before anything else; so does a free of a block the table of sampled blocks does not hold. The rest is as above.
 *
 * Re-entrancy (see struct lt_thread_state): the shim's own nested allocations (libunwind's, on its first use in a
 * thread) are still recorded, with LT_NO_STACK, and so are their frees, so the books always balance; a signal
 * handler that allocates while a hook runs gets a stack of its own.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "leaktrack_wire.h"
#include "lt_base.h"
#include "lt_bootstrap.h"
#include "lt_hooks.h"
#include "lt_lifecycle.h"
#include "lt_real.h"
#include "lt_records.h"
#include "lt_sampler.h"
#include "lt_stacks.h"
#include "lt_state.h"
#include "lt_threads.h"
#include "lt_unwind.h"

/* How a hook proceeds. LT_LEVEL_0 + n: record with a stack, at nesting level n (a signal handler's
 * allocation interrupting a hook is level 1). */
enum lt_mode {
    LT_UNTRACKED = 0, /* pass through: not initialized yet, stopped, or the shim's own work (start, fork) */
    LT_NESTED = 1,    /* called from inside the shim (libunwind): record without a stack */
    LT_LEVEL_0 = 2,
};

/* ---------------------------------------------------------------------------------------------------- */
/* recording */

static inline int lt_enter_tracked(struct lt_thread_state *self, const void *frame) {
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
    if (atomic_load(&lt_state) == LT_UNINITIALIZED) {
        /* Wiped by a fork that ran no handlers of ours (_Fork, a raw system call): this child has no stream of
         * its own, and its parent's ring is not its to write. It runs untracked. */
        if (lt_started) {
            int expected = LT_UNINITIALIZED;
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
    struct lt_thread_state *self = &lt_self;
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
    if (!lt_sampler_take(size) || !lt_sampler_remember((uint64_t)(uintptr_t)ptr)) return;
    uint32_t stack = lt_stack_for(mode);
    lt_record_alloc((uint64_t)(uintptr_t)ptr, (uint64_t)size, stack, kind, lt_thread_current());
}

/* `begin`: the REALLOC_BEGIN's position; LT_NOT_RECORDED when the old block was not recorded as leaving (in a
 * sampled stream, one that was not sampled), UINT64_MAX when the record was dropped. */
#define LT_NOT_RECORDED (UINT64_MAX - 1)
static void lt_note_realloc_end(uint64_t begin, void *old, void *ptr, size_t size, uint8_t kind, int mode) {
    if (old == NULL || begin == LT_NOT_RECORDED) {
        /* Nothing to say about the old block: the new one is an allocation like any other. */
        lt_note_alloc(ptr, size, kind, mode);
        return;
    }
    int failed = ptr == NULL && size != 0;
    if (begin == UINT64_MAX) {
        /* The REALLOC_BEGIN was dropped; a sampled old block that is still live goes back into the table, so
         * that its free is recorded like any other. */
        if (failed) lt_sampler_remember((uint64_t)(uintptr_t)old);
        return;
    }
    if (failed) atomic_fetch_add_explicit(&lt_counters.failed_allocs, 1, memory_order_relaxed);
    /* Sampled stream: the old block was sampled and is out of the table. If the call failed it is still live,
     * and goes back in (or, should its bucket have filled meanwhile, is recorded as gone: unsampled from now
     * on). A new block that is not sampled is recorded as none: the old block just leaves. */
    if (failed && !lt_sampler_remember((uint64_t)(uintptr_t)old)) failed = 0;
    if (ptr != NULL && (!lt_sampler_take(size) || !lt_sampler_remember((uint64_t)(uintptr_t)ptr))) ptr = NULL;
    uint32_t stack = ptr != NULL ? lt_stack_for(mode) : LT_NO_STACK;
    lt_record_realloc_end(begin, (uint64_t)(uintptr_t)ptr, failed || ptr == NULL ? 0 : (uint64_t)size, stack,
                          failed ? LT_REALLOC_FAILED : LT_REALLOC_DONE, kind, lt_thread_current());
}

/* ---------------------------------------------------------------------------------------------------- */
/* the replacement functions */

static void *lt_untracked_alloc(size_t size, size_t alignment, int zero) {
    if (!atomic_load_explicit(&lt_real_ready, memory_order_acquire)) return lt_bootstrap_alloc(size, alignment);
    if (alignment <= 16) return zero ? lt_real.calloc(1, size) : lt_real.malloc(size);
    return lt_real.memalign(alignment, size);
}

/* The recorded paths are functions of their own: the sampled stream's pass-over, above them, then costs no
 * registers saved and restored. */
static LT_NOINLINE void *lt_malloc_recorded(size_t size) {
    int mode = lt_enter();
    if (LT_UNLIKELY(mode == LT_UNTRACKED)) return lt_untracked_alloc(size, 16, 0);
    void *ptr = lt_real.malloc(size);
    lt_note_alloc(ptr, size, LT_KIND_MALLOC, mode);
    lt_leave(mode);
    return ptr;
}

void *lt_replacement_malloc(size_t size) {
    if (lt_sampler_passes_over(size)) return lt_real.malloc(size);
    return lt_malloc_recorded(size);
}

static LT_NOINLINE void *lt_calloc_recorded(size_t count, size_t size) {
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

void *lt_replacement_calloc(size_t count, size_t size) {
    size_t bytes;
    if (!__builtin_mul_overflow(count, size, &bytes) && lt_sampler_passes_over(bytes))
        return lt_real.calloc(count, size);
    return lt_calloc_recorded(count, size);
}

static LT_NOINLINE void lt_free_recorded(void *ptr) {
    if (LT_LIKELY(atomic_load_explicit(&lt_state, memory_order_relaxed) == LT_ENABLED) && !lt_self.internal &&
        lt_sampler_records_free((uint64_t)(uintptr_t)ptr))
        lt_record_free(LT_REC_FREE, (uint64_t)(uintptr_t)ptr);
    if (LT_UNLIKELY(!atomic_load_explicit(&lt_real_ready, memory_order_acquire))) return;
    lt_real.free(ptr);
}

void lt_replacement_free(void *ptr) {
    if (ptr == NULL || LT_UNLIKELY(lt_bootstrap_owns(ptr))) return;
    /* Sampled stream: a block whose bucket holds no sampled block was not sampled (lt_sampler.h). */
    if (lt_sampler_mean != 0 && lt_sampler_surely_unsampled((uint64_t)(uintptr_t)ptr)) {
        lt_real.free(ptr);
        return;
    }
    lt_free_recorded(ptr);
}

/* realloc and reallocarray: the old block leaves the live set before the real call (REALLOC_BEGIN), and
 * REALLOC_END says what became of it: a new block (maybe at the same address), nothing after realloc(p, 0),
 * or, if the call failed, the old block restored. reallocarray is the overflow check and then realloc, as in
 * glibc: its own reallocarray would call our realloc again through the PLT (one call recorded twice, and in
 * a sampled stream sampled twice). */
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
    /* Whether the old block leaves with a record (always in exact mode; sampled ones, which leave the table
     * here, in a sampled stream). Neither block is recorded when the old one was not sampled and the new one
     * is not either. */
    int old_recorded = 1;
    if (LT_UNLIKELY(lt_sampler_mean != 0) && ptr != NULL &&
        atomic_load_explicit(&lt_state, memory_order_relaxed) == LT_ENABLED && !lt_self.internal)
        old_recorded = lt_sampler_records_free((uint64_t)(uintptr_t)ptr);
    if (LT_UNLIKELY(lt_sampler_mean != 0) && !overflow && (ptr == NULL || !old_recorded) &&
        lt_sampler_passes_over(total))
        return lt_real.realloc(ptr, total);
    int mode = lt_enter();
    if (LT_UNLIKELY(mode == LT_UNTRACKED)) {
        if (!atomic_load_explicit(&lt_real_ready, memory_order_acquire)) {
            if (overflow) {
                errno = ENOMEM;
                return NULL;
            }
            return lt_bootstrap_alloc(total, 16);
        }
        if (overflow) {
            errno = ENOMEM;
            return NULL;
        }
        return lt_real.realloc(ptr, total);
    }
    uint64_t begin = LT_NOT_RECORDED;
    if (ptr != NULL && old_recorded) begin = lt_record_free(LT_REC_REALLOC_BEGIN, (uint64_t)(uintptr_t)ptr);
    void *result;
    if (overflow) {
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
    if (lt_sampler_passes_over(size)) return lt_real.posix_memalign(out, alignment, size);
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
    if (lt_sampler_passes_over(size)) return real(alignment, size);
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

/* ---------------------------------------------------------------------------------------------------- */
/* dlclose */

int lt_replacement_dlclose(void *handle) {
    if (!atomic_load(&lt_real_ready)) lt_init();
    /* The library's code addresses may be given to another library: the unwinder's cached rules go, before
     * (another thread may map new code there before we return) and after (rules derived meanwhile). */
    lt_unwind_forget();
    int result = lt_real.dlclose(handle);
    lt_unwind_forget();
    return result;
}
