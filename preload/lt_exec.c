/*
 * exec: the image that calls exec vanishes, and its ring survives only in the collector's mapping (or in
 * the memfd queued with HELLO, which the collector maps when it accepts). So the stream is ended first: the
 * exec publishes FINAL and wakes the collector, which reads the rest from its mapping while the new image
 * runs; the exec never waits for the collector. The new
 * image loads the shim again and starts a stream, and a trace, of its own (same pid; the collector names it
 * .2, .3, ... when the program name repeats).
 *
 * Every exec function is interposed, because glibc's execv, execvp, execl and friends call its internal
 * execve directly, not through the exported symbol. A vfork child shares our memory but not our pid:
 * lt_shutdown_without_waiting does nothing there, so a vfork+exec never ends the parent's stream.
 *
 * The stream ends only if exec can find its target executable: programs that search PATH themselves
 * (os.execvp) or try several candidates fail on purpose and go on. If exec fails past that check, the process
 * goes on untracked, with one message: starting a new stream while other threads may be inside hooks is not
 * safe (it is only done in a fork child, which has one thread).
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "leaktrack_wire.h"
#include "lt_diag.h"
#include "lt_exec.h"
#include "lt_real.h"
#include "lt_shutdown.h"
#include "lt_state.h"

extern char **environ;

#define LT_MAX_EXEC_ARGS 65536u /* execl's arguments are copied to the stack: 512 KiB at most */

typedef int (*lt_execve_fn)(const char *, char *const[], char *const[]);
typedef int (*lt_execvp_fn)(const char *, char *const[]);
typedef int (*lt_fexecve_fn)(int, char *const[], char *const[]);

/* Whether exec would find `file` executable: directly, or (search) in each PATH directory as execvp does.
 * No allocation: the candidate is built on the stack, and PATH is walked once. */
static int lt_exec_target_exists(const char *file, int search) {
    if (file == NULL || file[0] == '\0') return 0;
    if (!search || strchr(file, '/') != NULL) return access(file, X_OK) == 0;
    const char *path = getenv("PATH");
    if (path == NULL) path = "/bin:/usr/bin"; /* glibc's default */
    size_t file_length = strlen(file);
    char candidate[LT_MAX_PATH];
    for (const char *entry = path;;) {
        const char *end = strchrnul(entry, ':');
        size_t length = (size_t)(end - entry);
        if (length + 1 + file_length < sizeof candidate) {
            size_t at = 0;
            if (length > 0) { /* an empty entry is the current directory */
                memcpy(candidate, entry, length);
                candidate[length] = '/';
                at = length + 1;
            }
            memcpy(candidate + at, file, file_length + 1);
            if (access(candidate, X_OK) == 0) return 1;
        }
        if (*end == '\0') return 0;
        entry = end + 1;
    }
}

/* Ends this image's stream; returns whether it was being tracked. */
static int lt_exec_begin(void) {
    int tracked = atomic_load(&lt_state) == LT_ENABLED;
    lt_shutdown_without_waiting(LT_EXIT_UNKNOWN);
    return tracked;
}

static int lt_exec_failed(int tracked, int result) {
    int saved = errno;
    if (tracked && atomic_load(&lt_state) == LT_DISABLED)
        lt_diag("exec failed; the rest of this process is not tracked", NULL);
    errno = saved;
    return result;
}

int lt_replacement_execve(const char *path, char *const argv[], char *const envp[]) {
    lt_execve_fn real = (lt_execve_fn)lt_real_exec(LT_REAL_EXECVE);
    int tracked = lt_exec_target_exists(path, 0) && lt_exec_begin();
    return lt_exec_failed(tracked, real(path, argv, envp));
}

int lt_replacement_execvp(const char *file, char *const argv[]) {
    lt_execvp_fn real = (lt_execvp_fn)lt_real_exec(LT_REAL_EXECVP);
    int tracked = lt_exec_target_exists(file, 1) && lt_exec_begin();
    return lt_exec_failed(tracked, real(file, argv));
}

int lt_replacement_execvpe(const char *file, char *const argv[], char *const envp[]) {
    lt_execve_fn real = (lt_execve_fn)lt_real_exec(LT_REAL_EXECVPE);
    int tracked = lt_exec_target_exists(file, 1) && lt_exec_begin();
    return lt_exec_failed(tracked, real(file, argv, envp));
}

int lt_replacement_fexecve(int fd, char *const argv[], char *const envp[]) {
    lt_fexecve_fn real = (lt_fexecve_fn)lt_real_exec(LT_REAL_FEXECVE);
    int tracked = lt_exec_begin();
    return lt_exec_failed(tracked, real(fd, argv, envp));
}

int lt_replacement_execv(const char *path, char *const argv[]) { return lt_replacement_execve(path, argv, environ); }

/* execl, execle, execlp: the arguments up to the NULL become an argv array on the stack (bounded), then
 * the v-form runs. `with_env`: execle's environment follows the NULL. */
int lt_exec_list(const char *path, int search, int with_env, const char *arg0, va_list args) {
    size_t count = 0; /* arguments before the NULL */
    if (arg0 != NULL) {
        va_list copy;
        va_copy(copy, args);
        count = 1;
        while (count < LT_MAX_EXEC_ARGS && va_arg(copy, char *) != NULL) count++;
        va_end(copy);
        if (count >= LT_MAX_EXEC_ARGS) {
            errno = E2BIG;
            return -1;
        }
    }
    char *argv[count + 1];
    argv[0] = (char *)arg0;
    for (size_t i = 1; i < count; i++) argv[i] = va_arg(args, char *);
    if (arg0 != NULL) (void)va_arg(args, char *); /* the NULL */
    argv[count] = NULL;
    char *const *envp = with_env ? va_arg(args, char *const *) : environ;
    if (search) return lt_replacement_execvpe(path, argv, envp);
    return lt_replacement_execve(path, argv, envp);
}
