/*
 * The real functions behind the hooks: dlsym(RTLD_NEXT, ...), the next definition after ours. Binding
 * __libc_malloc directly would break when another allocator (jemalloc, tcmalloc) is preloaded too. While dlsym
 * runs, its own allocations are served by the bootstrap arena (lt_bootstrap.c), because lt_real_ready is not
 * set yet.
 */
#include <dlfcn.h>
#include <stdlib.h>

#include "lt_diag.h"
#include "lt_real.h"

struct lt_real_functions lt_real;
_Atomic int lt_real_ready;

void lt_resolve_real(void) {
    struct lt_real_functions r;
    r.malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
    r.calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
    r.realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
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
    if (!r.malloc || !r.calloc || !r.realloc || !r.free || !r.posix_memalign || !r.memalign || !r.exit_now || !r.exit ||
        !r.dlclose || !r.quick_exit) {
        lt_diag("cannot find the C library's allocator; leaktrack cannot run in this process", NULL);
        /* Without a real allocator there is nothing to forward to: the program cannot continue sanely. */
        _Exit(127);
    }
    lt_real = r;
    atomic_store_explicit(&lt_real_ready, 1, memory_order_release);
}

static const char *const lt_exec_names[LT_REAL_EXEC_COUNT] = {"execve", "execvp", "execvpe", "fexecve"};
static _Atomic(void *) lt_real_exec_functions[LT_REAL_EXEC_COUNT];

void *lt_real_exec(enum lt_exec_function which) {
    void *function = atomic_load_explicit(&lt_real_exec_functions[which], memory_order_acquire);
    if (function == NULL) {
        function = dlsym(RTLD_NEXT, lt_exec_names[which]);
        atomic_store_explicit(&lt_real_exec_functions[which], function, memory_order_release);
    }
    return function;
}

void lt_resolve_real_exec(void) {
    for (int which = 0; which < LT_REAL_EXEC_COUNT; which++) lt_real_exec((enum lt_exec_function)which);
}
