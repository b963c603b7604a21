/*
 * The helper thread: the only part of the shim that makes system calls in steady state, and only a few a
 * second.
 *
 * It connects to the collector (LEAKTRACK_SOCKET from `leaktrack record`, or a collector it starts itself in
 * bare LD_PRELOAD mode) and sends HELLO with the ring's memfd attached; from then on the collector reads the
 * records straight from the shared ring. The thread then only adds a TICK record (clock and memory) every
 * 100 ms, watches the socket for the collector going away, and at exit waits for the collector to have
 * consumed everything up to FINAL. All signals are blocked in it, and its own allocations pass straight
 * through the hooks unrecorded, so it can never wait on itself.
 *
 * If the collector goes away, tracking is switched off with one message and the thread empties the ring
 * into the void, so that no producer stays blocked and the program keeps running at full speed.
 */
#include <errno.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lt_internal.h"

extern char **environ;

#define LT_TICK_NS (100ull * 1000000ull)                /* a memory sample every 100 ms */
#define LT_WATCH_MS 20                                  /* how often the socket is checked */
#define LT_HELLO_ACK_TIMEOUT_MS 15000
#define LT_MAX_ENV 4096

static int lt_fd = -1;                           /* the connection to the collector */
static char lt_socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static _Atomic uint64_t lt_finish_pos = UINT64_MAX; /* set by lt_writer_finish */
static _Atomic int lt_writer_done;               /* the writer has sent FINAL and heard back (or gave up) */
static _Atomic int lt_writer_running;
static _Atomic int lt_writer_attached;           /* HELLO answered: the collector has the ring mapped (or never will) */

/* ---------------------------------------------------------------------------------------------------- */
/* socket helpers */

/* Sends all of the iovecs; `attach_fd` >= 0 goes along with the first bytes as SCM_RIGHTS. */
static int lt_send_all(const struct iovec *iov, int count, int attach_fd) {
    struct iovec local[2];
    memcpy(local, iov, (size_t)count * sizeof *iov);
    struct iovec *v = local;
    union {
        char buffer[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    while (count > 0) {
        struct msghdr msg = {.msg_iov = v, .msg_iovlen = (size_t)count};
        if (attach_fd >= 0) {
            memset(&control, 0, sizeof control);
            msg.msg_control = control.buffer;
            msg.msg_controllen = sizeof control.buffer;
            struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
            cmsg->cmsg_level = SOL_SOCKET;
            cmsg->cmsg_type = SCM_RIGHTS;
            cmsg->cmsg_len = CMSG_LEN(sizeof(int));
            memcpy(CMSG_DATA(cmsg), &attach_fd, sizeof(int));
        }
        ssize_t sent = sendmsg(lt_fd, &msg, MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        attach_fd = -1;
        while (count > 0 && (size_t)sent >= v->iov_len) {
            sent -= (ssize_t)v->iov_len;
            v++;
            count--;
        }
        if (count > 0) {
            v->iov_base = (char *)v->iov_base + sent;
            v->iov_len -= (size_t)sent;
        }
    }
    return 0;
}

static int lt_send_words(const uint64_t *words, uint32_t count, int attach_fd) {
    struct iovec iov = {.iov_base = (void *)words, .iov_len = count * 8u};
    return lt_send_all(&iov, 1, attach_fd);
}

/* Waits for one acknowledgement byte from the collector. */
static int lt_wait_ack(char expected, int timeout_ms) {
    struct pollfd p = {.fd = lt_fd, .events = POLLIN};
    uint64_t deadline = lt_monotonic_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) {
        uint64_t now = lt_monotonic_ns();
        if (now >= deadline) return -1;
        int ready = poll(&p, 1, (int)((deadline - now) / 1000000u) + 1);
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) return -1;
        char c;
        ssize_t got = recv(lt_fd, &c, 1, 0);
        if (got < 0 && errno == EINTR) continue;
        return got == 1 && c == expected ? 0 : -1;
    }
}

static int lt_connect(const char *path) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    size_t len = strnlen(path, sizeof addr.sun_path - 1);
    memcpy(addr.sun_path, path, len);
    while (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        if (errno == EINTR) continue;
        close(fd);
        return -1;
    }
    return fd;
}

/* ---------------------------------------------------------------------------------------------------- */
/* bare mode: start a collector of our own */

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

/* Starts `leaktrack collect` detached from this process (through `sh -c '... &'`, so the program never sees
 * it as a child it could wait for), handing it a listening socket that we connect to at once. */
static int lt_start_collector(void) {
    char collector[LT_MAX_PATH];
    if (lt_find_collector(collector, sizeof collector) != 0) {
        lt_diag("cannot find the leaktrack executable (looked at LEAKTRACK_COLLECTOR, beside libleaktrack.so "
                "and on PATH); the program runs untracked",
                NULL);
        return -1;
    }
    char dir[] = "/tmp/leaktrack-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        lt_diag("cannot create a private directory in /tmp for the collector socket; the program runs untracked",
                NULL);
        return -1;
    }
    memcpy(lt_socket_path, dir, sizeof dir - 1);
    memcpy(lt_socket_path + sizeof dir - 1, "/socket", sizeof "/socket");
    int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    memcpy(addr.sun_path, lt_socket_path, sizeof addr.sun_path);
    if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(listener, 64) != 0) {
        lt_diag("cannot create the collector socket; the program runs untracked", NULL);
        if (listener >= 0) close(listener);
        rmdir(dir);
        return -1;
    }
    chmod(lt_socket_path, 0600);

    char output_dir[LT_MAX_PATH];
    if (lt_config.output_dir != NULL) {
        strncpy(output_dir, lt_config.output_dir, sizeof output_dir - 1);
        output_dir[sizeof output_dir - 1] = '\0';
    } else if (getcwd(output_dir, sizeof output_dir) == NULL) {
        strcpy(output_dir, ".");
    }

    /* The collector must not be traced itself, nor inherit our collector settings. */
    static char *envp[LT_MAX_ENV + 2];
    int n = 0;
    for (char **e = environ; e != NULL && *e != NULL && n < LT_MAX_ENV; e++) {
        if (strncmp(*e, "LD_PRELOAD=", 11) == 0 || strncmp(*e, "LEAKTRACK_", 10) == 0) continue;
        envp[n++] = *e;
    }
    envp[n++] = "LEAKTRACK_DISABLE=1";
    envp[n] = NULL;

    /* Connect before the collector exists: the connection waits in the listener's backlog. Should this
     * process exec or die before the collector starts, the collector still finds the (closed) connection
     * and ends at once instead of waiting for one that never comes. */
    lt_fd = lt_connect(lt_socket_path);
    if (lt_fd < 0) {
        close(listener);
        lt_diag("cannot connect to the collector socket; the program runs untracked", NULL);
        return -1;
    }
    static const char script[] =
        "\"$0\" collect --listen-fd 3 --socket \"$1\" --output-dir \"$2\" </dev/null >/dev/null 3<&3 &";
    char *argv[] = {"sh", "-c", (char *)script, collector, lt_socket_path, output_dir, NULL};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, listener, 3);
    posix_spawn_file_actions_addclosefrom_np(&actions, 4);
    /* Not this thread's signal mask (everything blocked) nor the program's ignored signals: the collector
     * must stop on SIGTERM and Ctrl-C like any program, storing what it has. */
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
    if (rc == 0) {
        while (waitpid(shell, NULL, 0) < 0 && errno == EINTR) {
        }
    }
    close(listener);
    if (rc != 0) {
        close(lt_fd);
        lt_fd = -1;
        lt_diag("cannot start the collector ", collector, "; the program runs untracked", NULL);
        return -1;
    }
    if (!lt_config.quiet) {
        char exe[LT_MAX_PATH], pid[24];
        lt_executable_path(exe, sizeof exe);
        lt_diag("writing trace to ", output_dir, "/leaktrack.", lt_basename(exe), ".", lt_format_u64((uint64_t)getpid(), pid),
                ".trace", NULL);
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------------- */
/* stream */

static int lt_send_hello(int forked) {
    char exe[LT_MAX_PATH];
    uint32_t exe_len = lt_executable_path(exe, sizeof exe);
    static char cmdline[LT_MAX_CMDLINE];
    uint32_t cmdline_len = 0;
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t got;
        while (cmdline_len < sizeof cmdline &&
               (got = read(fd, cmdline + cmdline_len, sizeof cmdline - cmdline_len)) != 0) {
            if (got < 0) {
                if (errno == EINTR) continue;
                break;
            }
            cmdline_len += (uint32_t)got;
        }
        close(fd);
    }
    if (cmdline_len > 0 && cmdline[cmdline_len - 1] == '\0') cmdline_len--;

    static uint64_t words[(sizeof(struct lt_hello) + LT_MAX_PATH + LT_MAX_CMDLINE) / 8 + 2];
    memset(words, 0, sizeof words);
    struct lt_hello *hello = (struct lt_hello *)words;
    uint32_t total = sizeof *hello / 8 + lt_words_for_bytes(exe_len) + lt_words_for_bytes(cmdline_len);
    hello->header = lt_header_make(LT_REC_HELLO, total, 0);
    memcpy(hello->magic, LT_WIRE_MAGIC, LT_WIRE_MAGIC_SIZE);
    hello->version = LT_WIRE_VERSION;
    hello->pointer_size = sizeof(void *);
    hello->little_endian = 1;
    hello->flags = forked ? LT_HELLO_FORKED : 0;
    hello->pid = (uint32_t)getpid();
    hello->ppid = (uint32_t)getppid();
    hello->realtime_ns = lt_realtime_ns();
    hello->monotonic_ns = lt_monotonic_ns();
    hello->max_depth = lt_config.depth;
    hello->exe_len = exe_len;
    hello->cmdline_len = cmdline_len;
    hello->ring_log2 = lt_ring.log2;
    unsigned char *tail = (unsigned char *)(hello + 1);
    memcpy(tail, exe, exe_len);
    memcpy(tail + lt_words_for_bytes(exe_len) * 8, cmdline, cmdline_len);
    if (lt_send_words(words, total, lt_ring.fd) != 0) return -1;
    return lt_wait_ack(LT_ACK_HELLO, LT_HELLO_ACK_TIMEOUT_MS);
}

static uint64_t lt_read_statm_field(const char *text, int field) {
    uint64_t value = 0;
    for (int f = 0; f < field && *text; text++)
        if (*text == ' ') f++;
    for (; *text >= '0' && *text <= '9'; text++) value = value * 10 + (uint64_t)(*text - '0');
    return value;
}

/* Adds a TICK record to the ring, unless it is full (a sample can be skipped; the program must not wait). */
static void lt_emit_tick(void) {
    uint64_t vm = 0, rss = 0;
    char text[128] = {0};
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t got = read(fd, text, sizeof text - 1);
        close(fd);
        if (got > 0) {
            uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
            vm = lt_read_statm_field(text, 0) * page;
            rss = lt_read_statm_field(text, 1) * page;
        }
    }
    uint64_t pos = lt_ring_try_claim(4);
    if (pos == UINT64_MAX) return;
    lt_ring_put(pos, 1, lt_monotonic_ns());
    lt_ring_put(pos, 2, rss);
    lt_ring_put(pos, 3, vm);
    lt_ring_publish(pos, LT_REC_TICK, 4);
}

/* True once the collector has closed its end or the connection failed. */
static int lt_collector_gone(int timeout_ms) {
    struct pollfd p = {.fd = lt_fd, .events = POLLIN};
    int ready = poll(&p, 1, timeout_ms);
    if (ready <= 0) return 0;
    if (p.revents & (POLLHUP | POLLERR | POLLNVAL)) return 1;
    char c;
    ssize_t got = recv(lt_fd, &c, 1, MSG_DONTWAIT | MSG_PEEK);
    return got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR);
}

/* Throws away everything claimed so far, so that no producer stays blocked on a ring nobody reads. */
static void lt_discard_ring(void) {
    atomic_store_explicit(lt_ring.read, atomic_load_explicit(lt_ring.write, memory_order_acquire), memory_order_release);
}

static void lt_writer_loop(void) {
    int connected = lt_fd >= 0;
    uint64_t last_tick = 0;
    for (;;) {
        uint64_t finish = atomic_load_explicit(&lt_finish_pos, memory_order_acquire);
        if (connected && finish != UINT64_MAX) {
            /* The program is exiting: wait (bounded) until the collector has read everything up to FINAL,
             * so the trace is complete when the program's own exit is. */
            uint64_t deadline = lt_monotonic_ns() + (uint64_t)lt_config.exit_timeout_ms * 1000000u;
            while (atomic_load_explicit(lt_ring.read, memory_order_acquire) < finish && !lt_collector_gone(5)) {
                if (lt_monotonic_ns() > deadline) {
                    lt_diag("the collector did not read the end of the trace within LEAKTRACK_EXIT_TIMEOUT", NULL);
                    return;
                }
            }
            shutdown(lt_fd, SHUT_WR);
            if (lt_wait_ack(LT_ACK_DONE, (int)lt_config.exit_timeout_ms) != 0)
                lt_diag("the collector did not confirm the trace within LEAKTRACK_EXIT_TIMEOUT", NULL);
            return;
        }
        if (!connected) {
            /* Tracking is off, so no new records come; release whatever producers were mid-claim, a few
             * times over a little while, and end. */
            for (int round = 0; round < 50; round++) {
                lt_discard_ring();
                lt_sleep_ns(20000000);
            }
            return;
        }
        if (lt_collector_gone(LT_WATCH_MS)) {
            connected = 0;
            lt_disable("lost the connection to the collector; the program continues untracked");
            continue;
        }
        uint64_t now = lt_monotonic_ns();
        if (now - last_tick >= LT_TICK_NS && atomic_load(&lt_state) == LT_ENABLED) {
            last_tick = now;
            lt_emit_tick();
        }
    }
}

static void *lt_writer_main(void *arg) {
    lt_self.internal = 1;
    (void)arg; /* pthread's signature; the connection state is in the statics */
    if (!atomic_load_explicit(&lt_writer_attached, memory_order_acquire)) {
        /* Bare mode: the collector has to be started first, which takes a while; the program runs on. */
        lt_start_collector();
        if (lt_fd >= 0 && lt_send_hello(0) != 0) {
            lt_diag("the collector did not answer; the program runs untracked", NULL);
            close(lt_fd);
            lt_fd = -1;
        }
        if (lt_fd < 0) lt_disable(NULL);
        atomic_store_explicit(&lt_writer_attached, 1, memory_order_release);
    }
    lt_writer_loop();
    if (lt_fd >= 0) close(lt_fd);
    lt_fd = -1;
    atomic_store_explicit(&lt_writer_done, 1, memory_order_release);
    return NULL;
}

int lt_writer_start(int forked) {
    atomic_store(&lt_finish_pos, UINT64_MAX);
    atomic_store(&lt_writer_done, 0);
    atomic_store(&lt_writer_attached, 0);
    if (forked) {
        /* Inherited from the parent: that connection belongs to the parent's stream. */
        if (lt_fd >= 0) close(lt_fd);
        lt_fd = -1;
    }
    const char *path = lt_config.socket_path != NULL ? lt_config.socket_path : forked ? lt_socket_path : NULL;
    if (path != NULL) {
        /* A collector is listening already (record's, or the parent's): attach before the program goes on, so
         * that whatever comes next (a crash, SIGKILL, exec, daemon()'s internal _exit) finds the ring mapped by
         * the collector, which then reads every published record. A fork child does this before fork()
         * returns: the parent may exit at once, and the collector must know about the child by then. */
        if (path[0] != '\0') lt_fd = lt_connect(path);
        if (lt_fd < 0) {
            if (!forked) lt_diag("cannot connect to the collector at LEAKTRACK_SOCKET=", path, "; the program runs untracked", NULL);
            return -1;
        }
        if (lt_send_hello(forked) != 0) {
            if (!forked) lt_diag("the collector did not answer; the program runs untracked", NULL);
            close(lt_fd);
            lt_fd = -1;
            return -1;
        }
        atomic_store(&lt_writer_attached, 1);
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t thread;
    int rc = pthread_create(&thread, &attr, lt_writer_main, NULL);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    atomic_store(&lt_writer_running, rc == 0);
    if (rc != 0 && !forked) lt_diag("cannot start the writer thread; the program runs untracked", NULL);
    return rc == 0 ? 0 : -1;
}

void lt_writer_wait_attached(void) {
    if (!atomic_load(&lt_writer_running)) return;
    uint64_t deadline = lt_monotonic_ns() + (uint64_t)lt_config.exit_timeout_ms * 1000000u;
    while (!atomic_load_explicit(&lt_writer_attached, memory_order_acquire) && lt_monotonic_ns() < deadline)
        lt_sleep_ns(200000);
}

void lt_writer_finish(uint64_t end_pos) {
    atomic_store_explicit(&lt_finish_pos, end_pos, memory_order_release);
    if (!atomic_load(&lt_writer_running)) return;
    uint64_t deadline = lt_monotonic_ns() + (uint64_t)lt_config.exit_timeout_ms * 1000000u + 20000000000ull;
    while (!atomic_load_explicit(&lt_writer_done, memory_order_acquire)) {
        if (lt_monotonic_ns() > deadline) break;
        lt_sleep_ns(200000);
    }
}
