/*
 * Bare LD_PRELOAD mode: the shim starts a collector of its own.
 *
 * This runs while the shim starts, before the program's main: a private socket is created, the shim
 * connects to it (the connection waits in the listener's backlog), and `leaktrack collect` is started
 * detached (through `sh -c '... &'`, so the program never sees it as a child it could wait for) with the
 * listening socket as its descriptor 3. Doing it all here, before the program runs on, means the program
 * can never close the listener before the collector has it, and the HELLO sent right
 * after (with the ring's memfd) is queued on the connection even if the program dies a moment later.
 * Cost: about a millisecond for the shell, once per process image.
 */
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "leaktrack_wire.h"
#include "lt_config.h"
#include "lt_diag.h"
#include "lt_fds.h"
#include "lt_modules.h"
#include "lt_socket.h"
#include "lt_spawn.h"

extern char **environ;

#define LT_MAX_ENV 4096

static const char *lt_basename(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* Finds the leaktrack executable: LEAKTRACK_COLLECTOR, else beside this library, else on PATH. */
static int lt_find_collector(char *out, size_t size) {
    if (lt_config.collector_path != NULL) {
        strncpy(out, lt_config.collector_path, size - 1);
        out[size - 1] = '\0';
        return access(out, X_OK);
    }
    Dl_info info;
    if (dladdr((void *)lt_find_collector, &info) != 0 && info.dli_fname != NULL) {
        const char *slash = strrchr(info.dli_fname, '/');
        size_t dir = slash ? (size_t)(slash - info.dli_fname) : 0;
        if (slash && dir + sizeof "/leaktrack" < size) {
            memcpy(out, info.dli_fname, dir);
            memcpy(out + dir, "/leaktrack", sizeof "/leaktrack");
            if (access(out, X_OK) == 0) return 0;
        }
    }
    const char *path = getenv("PATH");
    for (const char *p = path; p != NULL && *p != '\0';) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        if (len > 0 && len + sizeof "/leaktrack" < size) {
            memcpy(out, p, len);
            memcpy(out + len, "/leaktrack", sizeof "/leaktrack");
            if (access(out, X_OK) == 0) return 0;
        }
        p = colon ? colon + 1 : NULL;
    }
    return -1;
}

/* The absolute directory traces go to: LEAKTRACK_OUTPUT_DIR (relative to the current directory), else the
 * current directory. Resolved once, here; a current directory whose path cannot be had (longer than
 * PATH_MAX, or deleted) is refused rather than guessed. */
static int lt_output_directory(char *out, size_t size) {
    const char *configured = lt_config.output_dir;
    if (configured != NULL && configured[0] == '/') {
        if (strlen(configured) >= size) return -1;
        strcpy(out, configured);
    } else {
        if (getcwd(out, size) == NULL) {
            lt_diag("cannot resolve the current directory (its path is too long or it was removed); set "
                    "LEAKTRACK_OUTPUT_DIR to an absolute directory; the program runs untracked",
                    NULL);
            return -1;
        }
        if (configured != NULL) {
            size_t used = strlen(out), extra = strlen(configured);
            if (used + 1 + extra >= size) {
                lt_diag("LEAKTRACK_OUTPUT_DIR makes a path that is too long; the program runs untracked", NULL);
                return -1;
            }
            out[used] = '/';
            memcpy(out + used + 1, configured, extra + 1);
        }
    }
    struct stat status;
    if (stat(out, &status) != 0 || !S_ISDIR(status.st_mode)) {
        lt_diag("the trace directory ", out, " does not exist; the program runs untracked", NULL);
        return -1;
    }
    return 0;
}

/* Runs `sh -c 'collector collect ... &'` with the listener as descriptor 3 and waits for the shell, which
 * ends as soon as it has started the collector in the background. */
static int lt_run_collector(const char *collector, int listener, const char *socket_path, const char *output_dir) {
    /* The collector must not be traced itself, nor inherit the shim's settings; it keeps its own (sampling,
     * snapshot rules, where its control socket goes, which symbolizer). */
    static const char *const collector_settings[] = {
        "LEAKTRACK_INTERVAL=",    "LEAKTRACK_SNAPSHOT_AT=", "LEAKTRACK_SNAPSHOT_EVERY=",
        "LEAKTRACK_RUNTIME_DIR=", "LEAKTRACK_SYMBOLIZER=",  NULL};
    static char *envp[LT_MAX_ENV + 2];
    int n = 0;
    for (char **e = environ; e != NULL && *e != NULL && n < LT_MAX_ENV; e++) {
        if (strncmp(*e, "LD_PRELOAD=", 11) == 0) continue;
        if (strncmp(*e, "LEAKTRACK_", 10) == 0) {
            int keep = 0;
            for (const char *const *s = collector_settings; *s != NULL && !keep; s++)
                keep = strncmp(*e, *s, strlen(*s)) == 0;
            if (!keep) continue;
        }
        envp[n++] = *e;
    }
    envp[n++] = "LEAKTRACK_DISABLE=1";
    envp[n] = NULL;
    /* --name=value: a value that starts with '-' is never taken for an option. */
    static const char script[] =
        "\"$0\" collect --listen-fd 3 --socket=\"$1\" --output-dir=\"$2\" </dev/null >/dev/null 3<&3 &";
    char *argv[] = {"sh", "-c", (char *)script, (char *)collector, (char *)socket_path, (char *)output_dir, NULL};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, listener, 3);
    posix_spawn_file_actions_addclosefrom_np(&actions, 4);
    /* Not the program's signal mask nor its ignored signals: the collector must stop on SIGTERM and Ctrl-C
     * like any program, storing what it has. */
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    posix_spawnattr_setsigmask(&attributes, &none);
    posix_spawnattr_setsigdefault(&attributes, &all);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t shell;
    int rc = posix_spawn(&shell, "/bin/sh", &actions, &attributes, argv, envp);
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) return -1;
    int status;
    while (waitpid(shell, &status, 0) < 0 && errno == EINTR) {}
    return 0;
}

int lt_spawn_collector(char *path, size_t size) {
    char collector[LT_MAX_PATH];
    if (lt_find_collector(collector, sizeof collector) != 0) {
        lt_diag("cannot find the leaktrack executable (looked at LEAKTRACK_COLLECTOR, beside libleaktrack.so "
                "and on PATH); the program runs untracked",
                NULL);
        return -1;
    }
    char output_dir[LT_MAX_PATH];
    if (lt_output_directory(output_dir, sizeof output_dir) != 0) return -1;
    char dir[] = "/tmp/leaktrack-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        lt_diag("cannot create a private directory in /tmp for the collector socket; the program runs untracked", NULL);
        return -1;
    }
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    if (sizeof dir - 1 + sizeof "/socket" > size || sizeof dir - 1 + sizeof "/socket" > sizeof address.sun_path)
        return -1;
    memcpy(path, dir, sizeof dir - 1);
    memcpy(path + sizeof dir - 1, "/socket", sizeof "/socket");
    memcpy(address.sun_path, path, strlen(path) + 1);
    int listener = lt_fd_move_high(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (listener < 0 || bind(listener, (struct sockaddr *)&address, sizeof address) != 0 ||
        listen(listener, SOMAXCONN) != 0) {
        lt_diag("cannot create the collector socket; the program runs untracked", NULL);
        if (listener >= 0) close(listener);
        unlink(path);
        rmdir(dir);
        return -1;
    }
    chmod(path, 0600);
    /* Connections accepted from it carry their senders' credentials (the collector knows each process by a
     * pid the kernel vouches for). */
    int on = 1;
    setsockopt(listener, SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
    /* Connect before the collector exists: the connection waits in the listener's backlog. */
    int connection = lt_connect(path);
    if (connection < 0) {
        close(listener);
        unlink(path);
        rmdir(dir);
        lt_diag("cannot connect to the collector socket; the program runs untracked", NULL);
        return -1;
    }
    int started = lt_run_collector(collector, listener, path, output_dir);
    close(listener);
    if (started != 0) {
        close(connection);
        unlink(path);
        rmdir(dir);
        lt_diag("cannot start the collector ", collector, "; the program runs untracked", NULL);
        return -1;
    }
    if (!lt_config.quiet) {
        char exe[LT_MAX_PATH], pid[24];
        lt_executable_path(exe, sizeof exe);
        lt_diag("writing trace to ", output_dir, "/leaktrack.", lt_basename(exe), ".",
                lt_format_u64((uint64_t)getpid(), pid), ".trace", NULL);
    }
    return connection;
}
