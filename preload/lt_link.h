/* The link to the collector (lt_link.c): HELLO with the ring's memfd, for the process and for each fork
 * child. */
#ifndef LT_LINK_H
#define LT_LINK_H

/* Connects (LEAKTRACK_SOCKET, or a collector started here), sends HELLO with the ring's memfd `ring_fd` and
 * closes both. The memfd travels in the socket's queue, so every record published from now on reaches the
 * collector whatever happens to this process. 0, or -1 (said why). */
int lt_link_start(int ring_fd);
/* fork: the parent prepares the child's ring and connection (prepare), the parent drops them (parent), the
 * child maps and announces them (child: 0, or -1 if the child must run untracked). */
void lt_link_prepare_fork(void);
void lt_link_fork_parent(void);
int lt_link_fork_child(void);

#endif /* LT_LINK_H */
