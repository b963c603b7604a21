/*
 * Every symbol libleaktrack.so exports, each a one-line forwarder to its lt_replacement_* function (lt_hooks.c,
 * lt_exits.c, lt_exec.c), which the C unit tests call directly, without preloading. The library is
 * built with -fvisibility=hidden, so these are the only names it adds to the program's symbol space.
 * C++ operator new and delete, strdup, and the rest of libc reach these through the PLT.
 */
#include <stddef.h>

#include "lt_exec.h"
#include "lt_exits.h"
#include "lt_hooks.h"

#define LT_EXPORT __attribute__((visibility("default")))

LT_EXPORT void *malloc(size_t size) { return lt_replacement_malloc(size); }
LT_EXPORT void *calloc(size_t count, size_t size) { return lt_replacement_calloc(count, size); }
LT_EXPORT void *realloc(void *ptr, size_t size) { return lt_replacement_realloc(ptr, size); }
LT_EXPORT void *reallocarray(void *ptr, size_t count, size_t size) {
    return lt_replacement_reallocarray(ptr, count, size);
}
LT_EXPORT void free(void *ptr) { lt_replacement_free(ptr); }
LT_EXPORT int posix_memalign(void **out, size_t alignment, size_t size) {
    return lt_replacement_posix_memalign(out, alignment, size);
}
LT_EXPORT void *aligned_alloc(size_t alignment, size_t size) { return lt_replacement_aligned_alloc(alignment, size); }
LT_EXPORT void *memalign(size_t alignment, size_t size) { return lt_replacement_memalign(alignment, size); }
LT_EXPORT void *valloc(size_t size) { return lt_replacement_valloc(size); }
LT_EXPORT void *pvalloc(size_t size) { return lt_replacement_pvalloc(size); }
LT_EXPORT void exit(int status) { lt_replacement_exit(status); }
LT_EXPORT void _exit(int status) { lt_replacement_exit_now(status); }
LT_EXPORT void _Exit(int status) { lt_replacement_exit_now(status); }
LT_EXPORT void quick_exit(int status) { lt_replacement_quick_exit(status); }
LT_EXPORT int daemon(int nochdir, int noclose) { return lt_replacement_daemon(nochdir, noclose); }
LT_EXPORT int dlclose(void *handle) { return lt_replacement_dlclose(handle); }
LT_EXPORT int __libc_start_main(int (*main)(int, char **, char **), int argc, char **argv, void (*init)(void),
                                void (*fini)(void), void (*rtld_fini)(void), void *stack_end) {
    return lt_replacement_libc_start_main(main, argc, argv, init, fini, rtld_fini, stack_end);
}
LT_EXPORT int execve(const char *path, char *const argv[], char *const envp[]) {
    return lt_replacement_execve(path, argv, envp);
}
LT_EXPORT int execv(const char *path, char *const argv[]) { return lt_replacement_execv(path, argv); }
LT_EXPORT int execvp(const char *file, char *const argv[]) { return lt_replacement_execvp(file, argv); }
LT_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[]) {
    return lt_replacement_execvpe(file, argv, envp);
}
LT_EXPORT int fexecve(int fd, char *const argv[], char *const envp[]) { return lt_replacement_fexecve(fd, argv, envp); }
/* The list forms: va_list plumbing only. */
LT_EXPORT int execl(const char *path, const char *arg0, ...) {
    va_list a;
    va_start(a, arg0);
    int r = lt_exec_list(path, 0, 0, arg0, a);
    va_end(a);
    return r;
}
LT_EXPORT int execlp(const char *file, const char *arg0, ...) {
    va_list a;
    va_start(a, arg0);
    int r = lt_exec_list(file, 1, 0, arg0, a);
    va_end(a);
    return r;
}
LT_EXPORT int execle(const char *path, const char *arg0, ...) {
    va_list a;
    va_start(a, arg0);
    int r = lt_exec_list(path, 0, 1, arg0, a);
    va_end(a);
    return r;
}
