/* The functions the shim's hooks forward to: the next definitions after ours (lt_real.c). */
#ifndef LT_REAL_H
#define LT_REAL_H

#include "lt_base.h"

typedef int (*lt_main_fn)(int, char **, char **);
typedef int (*lt_start_main_fn)(lt_main_fn, int, char **, void (*)(void), void (*)(void), void (*)(void), void *);

/* The real allocator, found with dlsym(RTLD_NEXT): the next definition after ours, which also works when
 * another allocator (jemalloc, tcmalloc) is preloaded too. Published all at once through lt_real_ready. */
struct lt_real_functions {
    void *(*malloc)(size_t);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
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
extern LT_HIDDEN struct lt_real_functions lt_real;
extern LT_HIDDEN _Atomic int lt_real_ready;

/* Looks the functions up; without a real allocator the process cannot go on, and ends with status 127. */
void lt_resolve_real(void);

/* The exec family. */
enum lt_exec_function { LT_REAL_EXECVE, LT_REAL_EXECVP, LT_REAL_EXECVPE, LT_REAL_FEXECVE, LT_REAL_EXEC_COUNT };
/* Looks them up now (while the shim starts), not at the first exec: a vfork child that execs must not run
 * dlsym, which can take the loader's lock or allocate in memory it shares with its parent. */
void lt_resolve_real_exec(void);
/* The next definition of that exec function, looked up on first use if lt_resolve_real_exec has not run
 * (exec is rare; nothing here is on a hot path). The C library has all of them, so the lookup cannot fail
 * where the shim could load at all. */
void *lt_real_exec(enum lt_exec_function which);

#endif /* LT_REAL_H */
