/* The ways out of a process, and the start of main (lt_exits.c). */
#ifndef LT_EXITS_H
#define LT_EXITS_H

void lt_replacement_exit_now(int status) __attribute__((noreturn));
void lt_replacement_exit(int status) __attribute__((noreturn));
void lt_replacement_quick_exit(int status) __attribute__((noreturn));
int lt_replacement_daemon(int nochdir, int noclose);
int lt_replacement_libc_start_main(int (*main)(int, char **, char **), int argc, char **argv, void (*init)(void),
                                   void (*fini)(void), void (*rtld_fini)(void), void *stack_end);

#endif /* LT_EXITS_H */
