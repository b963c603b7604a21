/* One program, one way of living and dying per argument; each leaks known blocks from known functions before
 * (or while) it happens. The tests run it under the shim and check every trace that results. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <setjmp.h>
#include <spawn.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

static void *volatile keep;

NOINLINE static void parent_leak(void) { keep = malloc(100); }
NOINLINE static void child_leak(void) { keep = malloc(200); }
NOINLINE static void before_abort(void) { keep = malloc(300); }
NOINLINE static void before_crash(void) { keep = malloc(400); }
NOINLINE static void before_exit_now(void) { keep = malloc(500); }
NOINLINE static void daemon_leak(void) { keep = malloc(800); }
NOINLINE static void before_kill(void) { keep = malloc(900); }
NOINLINE static void spawning_parent(void) { keep = malloc(600); }
NOINLINE static void before_failed_exec(void) { keep = malloc(700); }
NOINLINE static void after_failed_exec(void) { keep = malloc(710); }

extern char **environ;

NOINLINE static void *thread_leak(void *arg) {
    keep = malloc(8);
    return arg;
}

static jmp_buf jump;
NOINLINE static void leak_then_jump(void) {
    keep = malloc(60);
    longjmp(jump, 1);
}

NOINLINE static void on_signal(int signal) {
    (void)signal;
    keep = malloc(70);
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "fork") == 0) {
        parent_leak();
        pid_t child = fork();
        if (child == 0) {
            child_leak();
            exit(0);
        }
        int status;
        waitpid(child, &status, 0);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    }
    if (strcmp(mode, "abort") == 0) {
        before_abort();
        abort();
    }
    if (strcmp(mode, "crash") == 0) {
        before_crash();
        *(volatile int *)(uintptr_t)8 = 1;
    }
    if (strcmp(mode, "exit-now") == 0) {
        before_exit_now();
        _exit(5);
    }
    if (strcmp(mode, "kill") == 0) {
        before_kill();
        kill(getpid(), SIGKILL);
    }
    if (strcmp(mode, "spawn") == 0) {
        /* posix_spawn and vfork+exec: the children are other programs; this stream must not notice. */
        spawning_parent();
        pid_t child;
        char *true_argv[] = {"true", NULL};
        if (posix_spawn(&child, "/bin/true", NULL, NULL, true_argv, environ) != 0) return 1;
        int status;
        waitpid(child, &status, 0);
        child = vfork();
        if (child == 0) {
            execl("/bin/true", "true", (char *)NULL);
            _exit(127);
        }
        waitpid(child, &status, 0);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    }
    if (strcmp(mode, "failed-exec") == 0) {
        /* Execs that fail, as a PATH search does: the program goes on, and so does its trace. */
        before_failed_exec();
        char *no_argv[] = {"no-such-program-here", NULL};
        if (execvp("no-such-program-here", no_argv) == 0) return 1;
        if (execl("/no/such/program", "program", (char *)NULL) == 0) return 1;
        after_failed_exec();
        return 0;
    }
    if (strcmp(mode, "daemon") == 0) {
        if (daemon(1, 1) != 0) return 1;
        daemon_leak();
        return 0;
    }
    if (strcmp(mode, "threads") == 0) {
        /* 2,000 threads that start, leak 8 bytes and end, four at a time. */
        for (int round = 0; round < 500; round++) {
            pthread_t threads[4];
            for (int t = 0; t < 4; t++) pthread_create(&threads[t], NULL, thread_leak, NULL);
            for (int t = 0; t < 4; t++) pthread_join(threads[t], NULL);
        }
        return 0;
    }
    if (strcmp(mode, "dlopen") == 0 && argc > 2) {
        /* 200 rounds of load, leak through the library, unload. */
        for (int round = 0; round < 200; round++) {
            void *handle = dlopen(argv[2], RTLD_NOW);
            if (handle == NULL) return 1;
            ((void (*)(void))dlsym(handle, "plugin_leak"))();
            dlclose(handle);
        }
        return 0;
    }
    if (strcmp(mode, "longjmp") == 0) {
        for (volatile int round = 0; round < 10; round++)
            if (setjmp(jump) == 0) leak_then_jump();
        return 0;
    }
    if (strcmp(mode, "signal") == 0) {
        signal(SIGUSR1, on_signal);
        for (int round = 0; round < 5; round++) raise(SIGUSR1);
        return 0;
    }
    fprintf(
        stderr,
        "usage: lifecycle fork|spawn|failed-exec|abort|crash|exit-now|kill|daemon|threads|dlopen LIB|longjmp|signal\n");
    return 2;
}
