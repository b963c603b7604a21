/* The exec family (lt_exec.c): end this image's stream before it is replaced. */
#ifndef LT_EXEC_H
#define LT_EXEC_H

#include <stdarg.h>

int lt_replacement_execve(const char *path, char *const argv[], char *const envp[]);
int lt_replacement_execv(const char *path, char *const argv[]);
int lt_replacement_execvp(const char *file, char *const argv[]);
int lt_replacement_execvpe(const char *file, char *const argv[], char *const envp[]);
int lt_replacement_fexecve(int fd, char *const argv[], char *const envp[]);
/* execl (search 0), execlp (search 1), execle (with_env 1): the list after arg0, up to its NULL. */
int lt_exec_list(const char *path, int search, int with_env, const char *arg0, va_list args);

#endif /* LT_EXEC_H */
